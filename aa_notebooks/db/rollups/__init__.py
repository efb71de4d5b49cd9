"""Rollups: executions and cost-by-model usage pre-aggregated per hour and day.

Kept by the write paths (`record_rollups`), rebuilt and checked from the raw rows
(`rebuild_rollups`, `check_rollups`), created in an attached database only on request
(`enable_rollups`). The analytics layer reads them through `aa_notebooks.analytics.rollup_source`.
"""
