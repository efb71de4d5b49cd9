-- The product document's DDL ("Database Schema" section), verbatim, preceded by what it
-- references but does not define: its four enum types and a minimal users table.
CREATE TYPE executionstatus AS ENUM ('success', 'failure', 'timeout');
CREATE TYPE executiontracesteptype AS ENUM ('thought', 'action', 'observation', 'tool_call', 'final_answer');
CREATE TYPE budgetscope AS ENUM ('user', 'agent', 'flow', 'global');
CREATE TYPE budgetalerttype AS ENUM ('warning', 'hard_stop');

CREATE TABLE users (id UUID PRIMARY KEY);

-- Agent executions
CREATE TABLE agentexecutions (
    id UUID PRIMARY KEY,
    user_id UUID REFERENCES users(id),
    request_id UUID NOT NULL,
    session_id UUID NOT NULL,
    agent_id UUID,
    agent_name VARCHAR,
    agent_type VARCHAR,
    model_name VARCHAR,
    status executionstatus NOT NULL,
    input_tokens INTEGER DEFAULT 0,
    output_tokens INTEGER DEFAULT 0,
    total_tokens INTEGER DEFAULT 0,
    cost_usd NUMERIC(10,6) DEFAULT 0,
    execution_time_ms INTEGER DEFAULT 0,
    llm_time_ms INTEGER DEFAULT 0,
    query_preview VARCHAR,
    error_type VARCHAR,
    error_message VARCHAR,
    started_at TIMESTAMP DEFAULT NOW(),
    completed_at TIMESTAMP
);

-- Execution traces (ReAct loop steps)
CREATE TABLE executiontraces (
    id UUID PRIMARY KEY,
    execution_id UUID REFERENCES agentexecutions(id) ON DELETE CASCADE,
    step_number INTEGER NOT NULL,
    step_type executiontracesteptype NOT NULL,
    content VARCHAR,
    input_tokens INTEGER DEFAULT 0,
    output_tokens INTEGER DEFAULT 0,
    duration_ms INTEGER DEFAULT 0,
    timestamp TIMESTAMP DEFAULT NOW()
);

-- Token usage breakdown
CREATE TABLE tokenusages (
    id UUID PRIMARY KEY,
    execution_id UUID REFERENCES agentexecutions(id) ON DELETE CASCADE,
    component VARCHAR,
    model VARCHAR,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cost_usd NUMERIC(10,6) NOT NULL,
    step_number INTEGER
);

-- Budget alerts
CREATE TABLE budgetalerts (
    id UUID PRIMARY KEY,
    user_id UUID REFERENCES users(id) ON DELETE CASCADE,
    scope budgetscope NOT NULL,
    threshold_usd NUMERIC(10,2) NOT NULL,
    period_days INTEGER DEFAULT 30,
    alert_type budgetalerttype NOT NULL,
    alert_at_percentage INTEGER DEFAULT 80,
    is_active BOOLEAN DEFAULT TRUE,
    email_notification BOOLEAN DEFAULT TRUE,
    current_spend_usd NUMERIC(10,2) DEFAULT 0
);
