"""`%agent_analytics` and `%%agent_analytics`: the notebook front end of the command set."""

from aa_notebooks.magic.magics import AgentAnalytics, load_ipython_extension

__all__ = ["AgentAnalytics", "load_ipython_extension"]
