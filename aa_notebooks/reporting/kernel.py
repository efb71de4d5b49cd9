"""Running a notebook in a real kernel with papermill, for reports and the demo.

jupyter_client interrupts a kernel (SIGINT) before asking it to shut down. papermill's last step
is a kernel_info request; when that SIGINT lands while the kernel is still inside the request's
handler (about one run in 25 here), ipykernel logs "ERROR | KeyboardInterrupt caught in kernel".
A notebook that papermill has finished needs no interrupt: the shutdown request alone ends the
kernel (and jupyter_client still kills one that does not end in time).

The kernel's channels are encrypted (CurveZMQ keys the manager provisions) where jupyter_client,
pyzmq and the kernelspec support it: a report's code and outputs, which hold the figures and
the database's rows, are then not sent in plain text over the loopback's TCP ports, and the
kernel does not warn that they are.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import zmq
from jupyter_client.manager import AsyncKernelManager

if TYPE_CHECKING:
    from nbformat import NotebookNode


class FinishedRunKernelManager(AsyncKernelManager):
    """A kernel manager that shuts a kernel down without interrupting it first, and encrypts
    its channels where it can."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if self.has_trait("transport_encryption") and zmq.has("curve"):
            self.transport_encryption = "auto"  # when the kernelspec declares it supported

    async def _async_interrupt_kernel(self) -> None:
        if self.shutting_down:  # the interrupt jupyter_client sends before a shutdown request
            return
        await super()._async_interrupt_kernel()


def execute_notebook(
    source: Path,
    target: Path,
    *,
    parameters: Mapping[str, Any] | None = None,
    cwd: Path | None = None,
    progress: bool = True,
) -> NotebookNode:
    """Execute `source` into `target` in a python3 kernel; returns the executed notebook."""
    import papermill

    executed: NotebookNode = papermill.execute_notebook(
        str(source),
        str(target),
        parameters=dict(parameters or {}),
        kernel_name="python3",
        language="python",
        progress_bar=progress,
        cwd=None if cwd is None else str(cwd),
        kernel_manager_class=FinishedRunKernelManager,
    )
    return executed


def declared_parameters(source: Path) -> dict[str, Any]:
    """The parameters `source`'s parameters cell declares (papermill's inspection). A notebook
    that names no kernel (one made with nbformat) is inspected as python3, the kernel it runs
    in: papermill's inspection would refuse it. The inspection's "Input Notebook" log line is
    left out: the run that follows logs the notebook it reads."""
    import nbformat

    notebook = nbformat.read(source, as_version=4)
    if notebook.metadata.get("kernelspec", {}).get("name"):
        return _inspected(source)
    notebook.metadata["kernelspec"] = {
        "name": "python3", "language": "python", "display_name": "Python 3",
    }  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="aa-notebooks-") as folder:
        named = Path(folder) / source.name
        nbformat.write(notebook, named)
        return _inspected(named)


def _inspected(source: Path) -> dict[str, Any]:
    import papermill

    papermill_log = logging.getLogger("papermill")
    quiet = _WithoutInputLine()
    papermill_log.addFilter(quiet)
    try:
        return dict(papermill.inspect_notebook(str(source)))
    finally:
        papermill_log.removeFilter(quiet)


class _WithoutInputLine(logging.Filter):
    """Drops papermill's "Input Notebook" line (only while a notebook is inspected)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Input Notebook")
