"""The demo world: users, agents, models, flows, questions and ReAct step texts.

Users and agents get uuid5 ids from their names, so they stay the same across seeds and a reset
can find the users a seed made. Model names are ones `aa_notebooks.pricing` knows, plus one
deliberately unpriced model (`acme-llm-v2`) so the "unpriced" warnings have something to show.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

NAMESPACE = uuid.UUID("6f1c8a52-5b0e-4d7e-9a43-3d2b8f0c9e11")
UNPRICED_MODEL = "acme-llm-v2"
TOOL_MODEL = "gpt-4o-mini"
"""The model the tools' own LLM calls (summarise, extract) run on."""


def entity_id(kind: str, name: str) -> uuid.UUID:
    """A stable id for a named demo entity (user, agent, budget)."""
    return uuid.uuid5(NAMESPACE, f"{kind}:{name}")


@dataclass(frozen=True)
class DemoUser:
    """A user who runs agents; `weight` is their share of the executions."""

    username: str
    weight: float

    @property
    def id(self) -> uuid.UUID:
        return entity_id("user", self.username)

    @property
    def email(self) -> str:
        return f"{self.username}@example.com"


@dataclass(frozen=True)
class DemoAgent:
    """An agent: its models (weighted), the model of its sub-agents, tools, flows and questions."""

    name: str
    agent_type: str
    weight: float
    models: tuple[tuple[str, float], ...]
    sub_agent_model: str
    tools: tuple[str, ...]
    flows: tuple[str, ...]
    questions: tuple[str, ...]

    @property
    def id(self) -> uuid.UUID:
        return entity_id("agent", self.name)


USERS: tuple[DemoUser, ...] = (
    DemoUser("alice", 0.28),
    DemoUser("bob", 0.22),
    DemoUser("carol", 0.18),
    DemoUser("dmitri", 0.14),
    DemoUser("erin", 0.10),
    DemoUser("farah", 0.08),
)

AGENTS: tuple[DemoAgent, ...] = (
    DemoAgent(
        "research-assistant",
        "react",
        0.22,
        (("gpt-4o", 0.6), ("claude-3-5-sonnet-20241022", 0.4)),
        "gpt-4o-mini",
        ("web_search", "fetch_page"),
        ("market-research",),
        (
            "What are the main differences between RAG and fine-tuning for support bots?",
            'Summarise the latest papers on "mixture of experts" routing',
            "Find three competitors of Acme Analytics and compare their pricing",
            "Which EU regulations apply to storing customer chat transcripts?",
            "What is the current market size for vector databases?",
        ),
    ),
    DemoAgent(
        "customer-support",
        "react",
        0.24,
        (("gpt-4o-mini", 0.8), ("claude-3-5-haiku-20241022", 0.2)),
        "gpt-4o-mini",
        ("lookup_order", "search_kb", "create_ticket"),
        ("support-escalation",),
        (
            "Where is my order #48213? It was due on Monday",
            "How do I reset my password if I no longer have access to my email?",
            "The invoice says 'net 30' - when exactly is payment due?",
            "Can I change the shipping address after the order has shipped?",
            'Customer writes: "the app crashes when I upload a PDF"',
            "Please cancel my subscription and refund the last charge",
        ),
    ),
    DemoAgent(
        "code-reviewer",
        "react",
        0.12,
        (("claude-3-5-sonnet-20241022", 0.85), ("gpt-4o", 0.15)),
        "claude-3-5-haiku-20241022",
        ("read_file", "run_tests", "post_comment"),
        ("pr-review",),
        (
            "Review PR #1182: add retry with backoff to the payments client",
            "Is this SQL safe? SELECT * FROM users WHERE name = '\" + name + \"'",
            "Why does test_checkout fail only on Python 3.12?",
            "Suggest a refactor for the 400-line handle_event function",
        ),
    ),
    DemoAgent(
        "data-analyst",
        "sql",
        0.14,
        (("gpt-4o", 0.7), ("gemini-1.5-pro", 0.3)),
        "gpt-4o-mini",
        ("run_sql", "plot_chart"),
        ("weekly-report",),
        (
            "Revenue by region for Q3 compared with Q2",
            "Which 10 customers churned last month and what did they have in common?",
            "Plot daily active users for the last 90 days",
            "Why did the conversion rate drop on 'Black Friday'?",
        ),
    ),
    DemoAgent(
        "doc-summarizer",
        "rag",
        0.12,
        (("gemini-1.5-flash", 0.6), ("gemini-1.5-pro", 0.4)),
        "gemini-1.5-flash",
        ("search_docs", "fetch_document"),
        ("weekly-report", "market-research"),
        (
            "Summarise the onboarding handbook in five bullet points",
            'What does the contract say about "termination for convenience"?',
            "Give me the action items from yesterday's board meeting notes",
            "Explain what <b>bold</b> means in the style guide's markup section",
        ),
    ),
    DemoAgent(
        "travel-planner",
        "multi_agent",
        0.08,
        (("gemini-1.5-pro", 0.5), ("gpt-4o", 0.5)),
        "gemini-1.5-flash",
        ("search_flights", "search_hotels"),
        (),
        (
            "Plan a 3-day trip to Lisbon in May for two people under 1500 EUR",
            "Find a direct flight from Berlin to Boston next Thursday",
            "Which hotels near the Barcelona conference centre have free cancellation?",
        ),
    ),
    DemoAgent(
        "email-triage",
        "classifier",
        0.06,
        (("gpt-4o-mini", 1.0),),
        "gpt-4o-mini",
        ("read_inbox", "label_email"),
        ("support-escalation",),
        (
            "Sort today's inbox into urgent, follow-up and FYI",
            'Draft a polite reply declining the "partnership" offer',
            "Which emails from this week mention a deadline?",
        ),
    ),
    DemoAgent(
        "legacy-router",
        "router",
        0.02,
        ((UNPRICED_MODEL, 1.0),),
        UNPRICED_MODEL,
        ("route_request",),
        (),
        (
            "Route this request to the right team: VPN not connecting",
            "Which department handles expense reports?",
        ),
    ),
)

MODELS: tuple[str, ...] = tuple(
    sorted(
        {model for agent in AGENTS for model, _ in agent.models}
        | {agent.sub_agent_model for agent in AGENTS}
        | {TOOL_MODEL}
    )
)
"""Every model the demo executions use."""

THOUGHTS: tuple[str, ...] = (
    "I should look this up before answering.",
    "The question has two parts; start with the first.",
    "I need more context from the available tools.",
    "The previous result is incomplete; try a narrower query.",
    "Let me check the details against a second source.",
)

OBSERVATIONS: tuple[str, ...] = (
    "Found 3 relevant results.",
    "The tool returned 12 rows.",
    'Result: {"status": "ok", "items": 2}',
    "No exact match; 5 partial matches.",
    "Retrieved the document (4 pages).",
)

FINAL_ANSWERS: tuple[str, ...] = (
    "Here is a summary of what I found, with sources.",
    "The answer is below, with the steps I took.",
    "Done: the requested changes are listed below.",
    "I found the information; the key points are below.",
)

SUB_AGENT_ACTIONS: tuple[str, ...] = (
    "delegate to sub-agent: planner",
    "delegate to sub-agent: critic",
    "delegate to sub-agent: extractor",
)

FAILURES: tuple[tuple[str, str, float], ...] = (
    ("RateLimitError", "Rate limit reached for requests per minute; retry after 20s", 0.35),
    ("ToolExecutionError", "Tool call failed: upstream service returned 503", 0.35),
    ("ContextLengthExceededError", "Prompt is longer than the model's context window", 0.15),
    ("OutputParserError", "Could not parse the model's tool call as JSON", 0.15),
)
"""error_type, error_message and share among failures."""

TIMEOUT_ERROR = ("TimeoutError", "Execution exceeded the 120 s time limit")
TIMEOUT_MS = 120_000
