-- 0002_history: the durable history written by the persistence workers (workers/persist.py).
--
-- Every row comes from one entry of an engine event stream (`events:{SYMBOL}` or `events:wallet`) and
-- carries its natural key (stream + seq, trade id, ...), so replaying a batch is a no-op
-- (INSERT ... ON CONFLICT DO NOTHING). The cursor of each stream is saved in the same transaction as the
-- rows of the batch. Units are engine integers: ticks, lots, minor units, milliseconds.
-- Documented in docs/schema.md.

-- Last persisted event per stream; updated in the same transaction as the batch's rows.
CREATE TABLE IF NOT EXISTS stream_cursors (
    stream      text PRIMARY KEY,                 -- 'events:BTC-USDT', 'events:wallet'
    last_seq    bigint NOT NULL DEFAULT 0,        -- seq of the last persisted entry (0 = none)
    last_ts_ms  bigint NOT NULL DEFAULT 0,        -- its ts
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Reference data, copied from the engine's asset:{SYM} / market:{SYM} hashes (for restore and reports).
CREATE TABLE IF NOT EXISTS assets (
    symbol      text PRIMARY KEY,
    name        text NOT NULL,
    decimals    integer NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS markets (
    symbol      text PRIMARY KEY,
    base        text NOT NULL,
    quote       text NOT NULL,
    status      text NOT NULL,
    spec        jsonb NOT NULL,                   -- the market hash without its counters (seq, book_seq)
    book_seq    bigint NOT NULL DEFAULT 0,        -- the market's book_seq when its stream was at book_seq_at
    book_seq_at bigint NOT NULL DEFAULT 0,        -- (restore: book_seq + cursor - book_seq_at is an upper bound)
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per order, its latest state (the projection of its events).
CREATE TABLE IF NOT EXISTS orders (
    order_id            bigint PRIMARY KEY,
    account             bigint NOT NULL,
    symbol              text NOT NULL,
    side                text NOT NULL,
    type                text NOT NULL,
    tif                 text NOT NULL,
    price_ticks         bigint NOT NULL,
    qty_lots            bigint NOT NULL,
    quote_qty_minor     bigint NOT NULL,
    filled_lots         bigint NOT NULL,
    quote_filled_minor  bigint NOT NULL,
    status              text NOT NULL,
    reason              text NOT NULL DEFAULT '',
    post_only           boolean NOT NULL DEFAULT false,
    stp                 text NOT NULL DEFAULT 'cancel_maker',
    client_order_id     text NOT NULL DEFAULT '',
    created_ms          bigint NOT NULL,
    updated_ms          bigint NOT NULL,
    -- additions (persistence): what restore needs to rebuild a resting order, and ordering guards
    hold_minor          bigint NOT NULL DEFAULT 0,
    hold_asset          text NOT NULL DEFAULT '',
    created_seq         bigint NOT NULL,          -- seq of the event that created it in its market stream
    last_seq            bigint NOT NULL           -- seq of the last event applied (upserts only move forward)
);
CREATE INDEX IF NOT EXISTS orders_account_created ON orders (account, created_ms, order_id);
CREATE INDEX IF NOT EXISTS orders_account_updated ON orders (account, updated_ms, order_id);
CREATE INDEX IF NOT EXISTS orders_open ON orders (symbol, order_id) WHERE status IN ('open', 'partially_filled');
CREATE INDEX IF NOT EXISTS orders_account_coid ON orders (account, client_order_id) WHERE client_order_id <> '';

-- Full status history: one row per order touched by an event.
CREATE TABLE IF NOT EXISTS order_events (
    stream       text NOT NULL,
    seq          bigint NOT NULL,
    order_id     bigint NOT NULL,
    type         text NOT NULL,                   -- order_accepted, trade, order_cancelled, ...
    status       text NOT NULL,                   -- the order's status after the event
    filled_lots  bigint NOT NULL,
    hold_minor   bigint NOT NULL,
    reason       text NOT NULL DEFAULT '',
    trade_id     bigint,
    ts_ms        bigint NOT NULL,
    PRIMARY KEY (stream, seq, order_id)
);
CREATE INDEX IF NOT EXISTS order_events_order ON order_events (order_id, seq);

CREATE TABLE IF NOT EXISTS trades (
    trade_id          bigint PRIMARY KEY,
    symbol            text NOT NULL,
    seq               bigint NOT NULL,
    price_ticks       bigint NOT NULL,
    qty_lots          bigint NOT NULL,
    notional_minor    bigint NOT NULL,
    taker_side        text NOT NULL,
    maker_order_id    bigint NOT NULL,
    taker_order_id    bigint NOT NULL,
    maker_account     bigint NOT NULL,
    taker_account     bigint NOT NULL,
    buyer_fee_minor   bigint NOT NULL,
    seller_fee_minor  bigint NOT NULL,
    ts_ms             bigint NOT NULL,
    UNIQUE (symbol, seq)
);
CREATE INDEX IF NOT EXISTS trades_symbol_ts ON trades (symbol, ts_ms);

CREATE TABLE IF NOT EXISTS fills (
    trade_id        bigint NOT NULL,
    liquidity       text NOT NULL CHECK (liquidity IN ('maker', 'taker')),
    order_id        bigint NOT NULL,
    account         bigint NOT NULL,
    symbol          text NOT NULL,
    side            text NOT NULL,
    price_ticks     bigint NOT NULL,
    qty_lots        bigint NOT NULL,
    notional_minor  bigint NOT NULL,
    fee_minor       bigint NOT NULL,
    fee_asset       text NOT NULL,
    ts_ms           bigint NOT NULL,
    PRIMARY KEY (trade_id, liquidity)
);
CREATE INDEX IF NOT EXISTS fills_account_ts ON fills (account, ts_ms);
CREATE INDEX IF NOT EXISTS fills_account_trade ON fills (account, trade_id);
CREATE INDEX IF NOT EXISTS fills_order ON fills (order_id);

-- One row per `ledger` entry of an event: summing it reproduces every balance exactly.
CREATE TABLE IF NOT EXISTS ledger (
    stream           text NOT NULL,
    seq              bigint NOT NULL,
    idx              integer NOT NULL,            -- position of the entry inside the event's ledger field
    account          bigint NOT NULL,
    asset            text NOT NULL,
    delta_available  bigint NOT NULL,
    delta_held       bigint NOT NULL,
    kind             text NOT NULL,               -- deposit, withdrawal, hold, trade, fee, release
    ts_ms            bigint NOT NULL,
    PRIMARY KEY (stream, seq, idx)
);
CREATE INDEX IF NOT EXISTS ledger_account_asset ON ledger (account, asset);

-- Deposits and withdrawals (the wallet stream) with the engine's idempotency record.
CREATE TABLE IF NOT EXISTS wallet_ops (
    seq           bigint PRIMARY KEY,
    type          text NOT NULL CHECK (type IN ('deposit', 'withdrawal')),
    account       bigint NOT NULL,
    asset         text NOT NULL,
    amount_minor  bigint NOT NULL,
    ref           text NOT NULL,
    result        text NOT NULL DEFAULT '',       -- the engine's wallet:refs record for ref, verbatim
    ts_ms         bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS wallet_ops_ref ON wallet_ops (ref);
CREATE INDEX IF NOT EXISTS wallet_ops_account ON wallet_ops (account, seq);

CREATE TABLE IF NOT EXISTS market_status_changes (
    symbol    text NOT NULL,
    seq       bigint NOT NULL,
    status    text NOT NULL,
    previous  text NOT NULL,
    ts_ms     bigint NOT NULL,
    PRIMARY KEY (symbol, seq)
);

-- Reconciliation runs and the differences they found.
CREATE TABLE IF NOT EXISTS reconcile_runs (
    id           bigserial PRIMARY KEY,
    started_at   timestamptz NOT NULL DEFAULT now(),
    heads        jsonb NOT NULL,                  -- stream -> seq the run compared at
    differences  integer NOT NULL,
    report       jsonb NOT NULL
);
