"""The contract's analytics endpoints: overview, executions, agent stats, costs, models, export.

Each calls the analytics layer (the single source of numbers) and answers JSON (see
`encoding`); the export streams the file the analytics layer writes, CSV or JSON.
"""

import os
import tempfile
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse, JSONResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from aa_notebooks.analytics import Analytics, Table
from aa_notebooks.analytics.choices import COST_BY, SORT_COLUMNS, SORT_ORDERS, choose
from aa_notebooks.analytics.executions import MAX_PAGE, MAX_PAGE_SIZE
from aa_notebooks.api.encoding import jsonable, records
from aa_notebooks.api.params import SORT_HELP, window_params

Window = Annotated[dict[str, Any], Depends(window_params)]
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json"}


def add_analytics_routes(router: APIRouter, client: Any) -> None:
    """Add the analytics endpoints; `client` is the Depends() giving the caller's Analytics."""
    Client = Annotated[Analytics, client]

    @router.get("/overview", summary="Dashboard summary statistics")
    def overview(analytics: Client, window: Window) -> JSONResponse:
        return JSONResponse(jsonable(analytics.overview(**window)))

    @router.get("/executions", summary="Paginated list of executions")
    def executions(
        analytics: Client,
        window: Window,
        page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
        page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 20,
        status: Annotated[str | None, Query(description="success, failure or timeout")] = None,
        agent_id: Annotated[str | None, Query(description="the agent's UUID")] = None,
        agent_name: str | None = None,
        model: str | None = None,
        sort_by: Annotated[str, Query(description=SORT_HELP)] = "started_at",
        sort_order: Annotated[str, Query(description="asc or desc")] = "desc",
    ) -> JSONResponse:
        found = analytics.executions(
            page, page_size, status=status, agent_id=agent_id, agent_name=agent_name,
            model=model, sort_by=choose(sort_by, SORT_COLUMNS, "sort_by"),
            sort_order=choose(sort_order, SORT_ORDERS, "sort_order"), **window,
        )  # fmt: skip
        body = {
            "items": records(found.rows), "total": found.total, "page": found.page,
            "page_size": found.page_size, "pages": found.pages, "sort_by": found.sort_by,
            "sort_order": found.sort_order, "window": jsonable(found.window), "scope": found.scope,
        }  # fmt: skip
        return JSONResponse(body)

    @router.get("/executions/{id}", summary="Detailed execution with traces")
    def execution(analytics: Client, id: uuid.UUID) -> JSONResponse:
        detail = analytics.execution(id)
        body = {
            "execution": jsonable(detail.execution),
            "traces": jsonable(detail.traces),
            "token_usage": jsonable(detail.token_usage),
            "scope": detail.scope,
        }
        return JSONResponse(body)

    # `:path`: a name may hold a "/" (sent as %2F, which the server decodes before routing)
    @router.get("/agents/{id:path}/stats", summary="Per-agent statistics")
    def agent_stats(analytics: Client, window: Window, id: str) -> JSONResponse:
        return JSONResponse(jsonable(analytics.agent_stats(id, **window)))

    @router.get("/costs/summary", summary="Cost breakdown by model/agent")
    def cost_summary(
        analytics: Client,
        window: Window,
        by: Annotated[str, Query(description="model, agent, user or day")] = "model",
    ) -> JSONResponse:
        return JSONResponse(_table(analytics.cost_summary(by=choose(by, COST_BY, "by"), **window)))

    @router.get("/costs/forecast", summary="Projected monthly costs")
    def cost_forecast(analytics: Client, window: Window) -> JSONResponse:
        return JSONResponse(jsonable(analytics.cost_forecast(**window)))

    @router.get("/comparison/models", summary="Model performance comparison")
    def compare_models(analytics: Client, window: Window) -> JSONResponse:
        return JSONResponse(_table(analytics.compare_models(**window)))

    @router.get("/export", summary="Export data (JSON/CSV)", response_class=FileResponse)
    async def export(
        analytics: Client,
        window: Window,
        format: Literal["csv", "json"] = "csv",
        include_traces: bool = False,
        include_token_usage: bool = False,
    ) -> FileResponse:
        handle, path = tempfile.mkstemp(prefix="aa-export-", suffix=f".{format}")
        os.close(handle)
        try:
            await run_in_threadpool(
                analytics.export, format, path=path, include_traces=include_traces,
                include_token_usage=include_token_usage, **window,
            )  # fmt: skip
        except BaseException:
            os.unlink(path)
            raise
        return FileResponse(
            path,
            media_type=MEDIA_TYPES[format],
            filename=f"agent-executions.{format}",
            background=BackgroundTask(os.unlink, path),
        )


def _table(table: Table) -> dict[str, Any]:
    return {
        "title": table.title,
        "items": records(table.frame),
        "notes": list(table.notes),
        "window": jsonable(table.window),
        "scope": table.scope,
    }
