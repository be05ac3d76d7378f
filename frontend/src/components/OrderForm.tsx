import { useEffect, useRef, useState, type FormEvent } from "react";
import type { Market, Order, OrderCreate } from "../api/types";
import { useSession } from "../lib/hooks";
import { api, ApiError } from "../lib/http";
import { decimalsOf, format, parse, toPlain } from "../lib/money";
import {
  checkOrder, checkSpend, editPrice, feeRole, formAmountText, leftAfterCap, marketShortfall, ownOrdersInReach, percentAmount, priceWarning,
  reachPrice, selfTradeWarning, sellQtyForPercent, sellTotalForEstimate, snapPrice, snapQty, spendableTotal, spendShortfall, TIF_TEXT,
  TIFS, totalForPercent, walkableQty, type OrderType, type Side, type Tif,
} from "../lib/orderForm";
import { authHref } from "../lib/nextRoute";
import { statusText } from "../lib/cellText";
import { ClientOrderIds } from "../lib/clientOrderId";
import { clearFormDraft, formDraftText, readFormDraft, writeFormDraft, type FormDraft } from "../lib/formDraft";
import { loadPref, PREF_KEYS, savePref } from "../lib/prefs";
import { fetchEstimate, useEstimate, useSpendEstimate } from "../lib/useEstimate";
import { errorText, ORDER_OFFLINE, ORDER_STATUS_UNKNOWN } from "../lib/userText";
import { reasonOf } from "../lib/orderEvents";
import { useAccount } from "./Account";
import { DecimalField } from "./DecimalField";
import { useToasts } from "./Toasts";

const SIDES: readonly Side[] = ["buy", "sell"];
/** How long an order's request may take before the form gives up on its answer (its status is then unknown,
 * and a resend, with the same client order id, is safe). */
const ORDER_TIMEOUT_MS = 20_000;
/** Where picking a price in the book brings the price field into view (the phone layout: the book is below
 * the form, out of sight) and how long the field is highlighted. */
const PHONE_QUERY = "(max-width: 760px)";
const PICK_FLASH_MS = 1_200;

export function OrderForm(props: {
  market: Market;
  picked: { price: string; n: number } | null;
  bestBid: string | null;
  bestAsk: string | null;
  /** the market's last trade price: a limit price far worse than it asks first (`priceWarning`) */
  last: string | null;
}) {
  const m = props.market;
  const session = useSession();
  const { balances, openOrders, noteOrder } = useAccount();
  const toasts = useToasts();
  // the market's draft (lib/formDraft.ts: kept in the tab's sessionStorage as the trader edits) fills the form
  // when it mounts, after a reload or a tab reopened in the same session
  const [restored] = useState(() => readFormDraft(m.symbol));
  // the side: the draft's, else the last one chosen on any market (a pref, kept across reloads)
  const [side, setSideState] = useState<Side>(() => restored?.side ?? loadPref(PREF_KEYS.orderSide, SIDES, "buy"));
  const setSide = (s: Side) => {
    setSideState(s);
    savePref(PREF_KEYS.orderSide, s);
  };
  const [type, setType] = useState<OrderType>(restored?.type ?? "limit");
  const [price, setPrice] = useState(restored?.price ?? "");
  const [qty, setQty] = useState(restored?.qty ?? "");
  // a market order may give its total (in the quote asset) instead of its amount: what a buy spends, or the
  // value a sell sells (the amount mode is one for both sides, as the unit chosen shows; a draft keeps it)
  const [byTotal, setByTotal] = useState(restored?.byTotal ?? false);
  const [spendText, setSpendText] = useState(restored?.total ?? "");
  const [tif, setTif] = useState<Tif>(restored?.tif ?? "gtc");
  const [postOnly, setPostOnly] = useState(restored?.postOnly ?? false);
  const draft: FormDraft = { side, type, price, qty, total: spendText, byTotal, tif, postOnly };
  // the market the form's fields belong to, and the draft stored for it as the form last read or wrote it:
  // an edit stores the draft, a mount or a switch of market that only shows the stored one does not
  const [formFor, setFormFor] = useState(m.symbol);
  const storedDraft = useRef({ symbol: m.symbol, text: formDraftText(draft) });
  const [busy, setBusy] = useState(false);
  const submitting = useRef(false);
  // the guard against a second submit before the first one answers is `submitting`; this one: the last send
  // had no answer ("lost": its resend's answer is told as such) or failed while the browser was offline
  const statusUnknown = useRef<"lost" | "offline" | null>(null);
  // the market of the order whose status is unknown (a send ended without an answer), while it is
  const unknownFor = useRef<string | null>(null);
  // what an order stopped by the engine's cap on resting orders matched per order left to send: the form
  // holds it as its amount (or total) and says so while that amount is unchanged
  const [carry, setCarry] = useState<{ symbol: string; side: Side; amount: string; text: string } | null>(null);
  // the server's last refusal: its message for the text, its code (INSUFFICIENT_FUNDS) for the tooltip
  const [serverError, setServerError] = useState<{ text: string; code?: string } | null>(null);
  // why a % button left the amount as it was (no price to size a buy by); any edit clears it
  const [pctReason, setPctReason] = useState<string | null>(null);
  // the % button of a sell by total asks the book first: its answer counts only if it is the last one asked
  // and nothing was edited since (each edit, below, and each click counts one up)
  const pctAsk = useRef(0);
  // one client order id per order meant: the same for a resend after a lost answer (see clientOrderId.ts)
  const orderIds = useRef(new ClientOrderIds());
  // the submit button was tapped (a touch): focus then stays off the amount field (no on-screen keyboard)
  const touchSubmit = useRef(false);
  const priceField = useRef<HTMLLabelElement>(null);
  // a price picked from the book on a phone: the price field is brought into view and flashes (n: the pick)
  const [flash, setFlash] = useState(0);

  useEffect(() => {
    if (props.picked) {
      // a book price is on the tick; were it not, it would go the trader's way, as a pasted price does
      setPrice(snapPrice(m, side, props.picked.price));
      setType("limit");
      if (window.matchMedia?.(PHONE_QUERY).matches) setFlash(props.picked.n);
    }
  }, [props.picked]);

  useEffect(() => {
    if (!flash) return;
    const reduce = window.matchMedia?.("(prefers-reduced-motion: reduce)").matches;
    priceField.current?.scrollIntoView({ block: "center", behavior: reduce ? "auto" : "smooth" });
    const t = setTimeout(() => setFlash(0), PICK_FLASH_MS);
    return () => clearTimeout(t);
  }, [flash]);

  // another market: its own draft, if the trader left one in this tab, else the fields emptied (the side, type,
  // time in force and amount mode stay). Done while rendering, not in an effect: no render (and no effect that
  // stores the draft) ever pairs one market's fields with another market
  if (formFor !== m.symbol) {
    const d = readFormDraft(m.symbol);
    const next: FormDraft = d ?? { ...draft, price: "", qty: "", total: "" };
    setFormFor(m.symbol);
    setSideState(next.side);
    setType(next.type);
    setPrice(next.price);
    setQty(next.qty);
    setSpendText(next.total);
    setByTotal(next.byTotal);
    setTif(next.tif);
    setPostOnly(next.postOnly);
    storedDraft.current = { symbol: m.symbol, text: formDraftText(next) }; // only shown: not stored again
  }

  // the draft follows what the form shows (after an order too: a cleared amount, the rest of a capped one),
  // except while an order of this market has an unknown status: a reload then shows an empty form, as before,
  // so the order is never sent again from a restored draft with a new client order id (ids are never kept)
  const draftText = formDraftText(draft);
  useEffect(() => {
    if (formFor !== m.symbol) return; // the fields are another market's until the switch above has rendered
    if (unknownFor.current === m.symbol) return;
    if (storedDraft.current.symbol === m.symbol && storedDraft.current.text === draftText) return;
    writeFormDraft(m.symbol, draft);
    storedDraft.current = { symbol: m.symbol, text: draftText };
  }, [m.symbol, formFor, draftText]);

  // the server's last refusal describes the order as it was sent: any edit (or another market) clears it
  useEffect(() => {
    setServerError(null);
    setPctReason(null);
    pctAsk.current += 1;
  }, [m.symbol, side, type, price, qty, tif, postOnly, byTotal, spendText]);

  const base = balances.get(m.base);
  const quote = balances.get(m.quote);
  const spending = type === "market" && byTotal; // a market order giving its total (quote_qty)
  const role = feeRole({ side, type, price, tif, postOnly }, props.bestBid, props.bestAsk);
  // a market order is priced by the server's walk of the book for its amount (or total), not by the best
  // price alone; a limit order that would trade at once is walked too, to see how far it reaches
  const walks = !spending && (type === "market" || (role === "taker" && !postOnly));
  const { estimate, error: walkError } = useEstimate(m.symbol, walks ? walkableQty(m, qty) : null);
  const { estimate: spent, error: spendError } = useSpendEstimate(m.symbol, spending ? spendableTotal(m, spendText) : null, side);
  const walked = estimate ? (side === "buy" ? estimate.buy : estimate.sell) : null;
  const check = spending
    ? checkSpend(m, spendText, (side === "buy" ? quote : base)?.available ?? null, {
        loggedIn: session !== null,
        side,
        bestAsk: props.bestAsk,
        bestBid: props.bestBid,
        estimate: spent,
      })
    : checkOrder(
        m,
        { side, type, price, qty, tif, postOnly },
        { base: base?.available ?? null, quote: quote?.available ?? null },
        { loggedIn: session !== null, bestAsk: props.bestAsk, bestBid: props.bestBid, estimate: walked },
      );
  // what the book leaves unfilled, or why the walk of the book could not be read (a rate limit: the order
  // can still go; its figures are then the best price's)
  const estimateError = spending ? spendError : type === "market" ? walkError : null;
  const shortfall =
    (spending ? spendShortfall(m, spent, side) : type === "market" ? marketShortfall(m, walked) : null) ??
    (estimateError ? `Estimate unavailable: ${estimateError}` : null);
  const avgPrice = spending ? spent?.avg_price : walked?.avg_price;
  const pd = decimalsOf(m.tick_size);
  // the trader's own resting orders this one would meet: self-trade prevention cancels them, said beforehand
  const reach = reachPrice({ side, type, price, postOnly }, spending ? spent?.worst_price : walked?.worst_price);
  const selfTrade = session ? selfTradeWarning(m, ownOrdersInReach(m.symbol, side, reach, openOrders)) : null;
  const carried =
    carry && carry.symbol === m.symbol && carry.side === side && carry.amount === (spending ? spendText : qty) ? carry.text : null;

  const setPct = (pct: number) => {
    setPctReason(null);
    const ask = ++pctAsk.current;
    if (spending && side === "sell") {
      // the value of pct % of the base at the bids now, by the book's walk for that amount: never a total
      // whose sale needs more base than that (lib/orderForm.ts sellTotalForEstimate); a valuation at the best
      // bid alone would be
      const sellQty = sellQtyForPercent(m, pct, base?.available ?? "0");
      if (sellQty === null) return setSpendText("0");
      fetchEstimate(m.symbol, sellQty).then(
        (e) => {
          if (ask !== pctAsk.current) return; // edited (or clicked again) since: this answer is stale
          const t = sellTotalForEstimate(m, e.sell);
          if (t !== null) setSpendText(t);
          else setPctReason("No bids in the book to size the total by");
        },
        (err: unknown) => {
          if (ask !== pctAsk.current) return;
          setPctReason(`Estimate unavailable: ${err instanceof ApiError ? errorText(err) : "try again"}`);
        },
      );
      return;
    }
    if (spending) return setSpendText(totalForPercent(m, pct, quote?.available ?? "0"));
    const avail = side === "sell" ? base?.available : quote?.available;
    // a buy is sized by the price typed, else by the best ask; without either the amount typed stays
    const r = percentAmount(m, { side, type, price }, pct, avail ?? "0", { bestBid: props.bestBid, bestAsk: props.bestAsk });
    if (r.qty !== null) setQty(r.qty);
    else setPctReason(r.reason);
  };

  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    // a ref, not the `busy` state: two submits in one event-loop turn both see the state before either render
    if (check.reason || submitting.current) return;
    // a fat finger: a limit price more than 5% worse than the last price is placed only once confirmed
    const warning = priceWarning(m, { side, type, price }, props.last);
    if (warning && !window.confirm(warning)) return;
    // focus stays in the form: the submit button is disabled while the order goes (and after it, with the
    // amount cleared), which would drop the focus of a keyboard user to the page; the amount field takes it
    const form = e.currentTarget;
    const amountField = () => form.querySelector<HTMLInputElement>("input[name=qty], input[name=quote_qty]");
    const keepFocus = !touchSubmit.current && form.contains(document.activeElement);
    if (keepFocus && (e.nativeEvent as SubmitEvent).submitter === document.activeElement) amountField()?.focus();
    submitting.current = true;
    setBusy(true);
    setServerError(null);
    // what checkOrder accepted, in the server's plain form (" .5" or "+1" pass the check; Enter skips the blur)
    const plain = (text: string) => {
      const d = parse(text);
      return d ? toPlain(d) : text;
    };
    const body: OrderCreate = spending
      ? { symbol: m.symbol, side, type, quote_qty: plain(spendText), post_only: false }
      : { symbol: m.symbol, side, type, qty: plain(qty), post_only: type === "limit" && postOnly };
    if (type === "limit") {
      body.price = plain(price);
      body.time_in_force = tif;
    }
    body.client_order_id = orderIds.current.idFor(body);
    try {
      const order = await api<Order>("POST", "/api/orders", { body, signal: AbortSignal.timeout(ORDER_TIMEOUT_MS) });
      orderIds.current.ended(null);
      unknownFor.current = null;
      noteOrder(order);
      // the answer to a resend after a lost one: say it went once, wherever it is now (a filled market order
      // is in the history, not in Open orders). After a send the offline browser never made, nothing to say.
      if (statusUnknown.current === "lost") {
        toasts.push("info", "Order placed once", `Sent again, not placed twice: order ${order.id} is ${statusText(order.status).full}`);
      }
      statusUnknown.current = null;
      // a refused post-only keeps its amount (fix the price, resend) and says why under the button, which
      // stays after the toast goes; an order stopped by the cap on resting orders matched per order leaves
      // what it did not fill in the form, ready to send
      const left = order.status === "rejected" ? null : leftAfterCap(m, order);
      if (order.status === "rejected") {
        setServerError({ text: `Not placed: ${reasonOf(order) || "rejected"}`, code: "REJECTED" });
      } else if (left) {
        const again = `${side === "buy" ? "Buy" : "Sell"} again to send the rest`;
        const stopped = "one order matches at most a set number of resting orders";
        if ("qty" in left) {
          const filled = formAmountText(m, "amount", side, order.filled_qty).replace(` ${m.base}`, "");
          const what = `${filled} of ${formAmountText(m, "amount", side, body.qty ?? "0")}`;
          setQty(left.qty);
          setCarry({ symbol: m.symbol, side, amount: left.qty, text: `Filled ${what}: ${stopped}. ${again}.` });
        } else {
          setSpendText(left.quoteQty);
          const rest = formAmountText(m, "total", side, left.quoteQty);
          const text = `${side === "buy" ? `Spent all but ${rest}` : `Sold all but ${rest} of the total`}: ${stopped}. ${again}.`;
          setCarry({ symbol: m.symbol, side, amount: left.quoteQty, text });
        }
      } else {
        setQty("");
        setSpendText("");
      }
    } catch (err) {
      const unknown = orderIds.current.ended(err);
      unknownFor.current = unknown ? m.symbol : null;
      if (unknown) {
        // not kept for a reload: sent from a restored draft it would go with a new client order id
        clearFormDraft(m.symbol);
        storedDraft.current = { symbol: m.symbol, text: "" };
        // no answer (or a server error): the order may be placed. The form keeps it as it is; sent again, it
        // goes with the same client order id, which the API answers with the order if it was placed. A browser
        // that knows it is offline most likely never sent it: said so (the resend is as safe)
        const offline = err instanceof ApiError && err.code === "NETWORK" && navigator.onLine === false;
        const said = offline ? ORDER_OFFLINE : ORDER_STATUS_UNKNOWN;
        statusUnknown.current = offline ? "offline" : "lost";
        setServerError({ text: said.line, code: err instanceof ApiError ? err.code : undefined });
        toasts.push("warn", said.title, said.body);
      } else if (err instanceof ApiError && err.code === "DUPLICATE_CLIENT_ORDER_ID") {
        // the form keys its id by the order's fields, so this is a resend of an order placed earlier that has
        // closed since (the server no longer returns it): not a refusal of a new order
        setServerError({ text: "This order was placed earlier and has closed: see Order history", code: err.code });
        toasts.push("info", "Order already placed", "It has closed since: see Order history");
      } else {
        const refused = err instanceof ApiError ? { text: errorText(err), code: err.code } : { text: "Order failed" };
        setServerError(refused);
        toasts.push("error", "Order rejected", refused.text);
      }
    } finally {
      submitting.current = false;
      setBusy(false);
      const active = document.activeElement;
      if (keepFocus && (!active || active === document.body)) amountField()?.focus();
    }
  }

  return (
    <form
      className="card order-form"
      onSubmit={submit}
      onKeyDown={() => void (touchSubmit.current = false)}
      aria-label="Place order"
      data-testid="order-form"
    >
      <div className="seg seg-wide" role="group" aria-label="Side">
        <button type="button" className={side === "buy" ? "active buy" : ""} aria-pressed={side === "buy"} onClick={() => setSide("buy")}>
          Buy
        </button>
        <button type="button" className={side === "sell" ? "active sell" : ""} aria-pressed={side === "sell"} onClick={() => setSide("sell")}>
          Sell
        </button>
      </div>
      <div className="seg" role="group" aria-label="Order type">
        <button type="button" className={type === "limit" ? "active" : ""} aria-pressed={type === "limit"} onClick={() => setType("limit")}>
          Limit
        </button>
        <button type="button" className={type === "market" ? "active" : ""} aria-pressed={type === "market"} onClick={() => setType("market")}>
          Market
        </button>
      </div>
      {type === "limit" ? (
        <label ref={priceField} className={`field${flash ? ` picked-flash picked-flash-${flash % 2}` : ""}`}>
          <span>Price</span>
          <DecimalField
            name="price"
            value={price}
            title={`Price step ${toPlain(m.tick_size)} ${m.quote}`}
            // a key past the tick's decimals does nothing; a pasted price off the tick goes to it, the trader's
            // way, on leaving the field (lib/orderForm.ts editPrice, snapPrice)
            onChange={(next, edit) => setPrice((before) => editPrice(m, before, next, edit.key))}
            onBlur={() => setPrice((p) => snapPrice(m, side, p))}
          />
          <em>{m.quote}</em>
        </label>
      ) : (
        <div className="field field-static">
          <span>Price</span>
          <span className="muted" data-testid="market-price">
            {avgPrice
              ? `Market (avg ≈ ${format(avgPrice, pd)})`
              : `Market (≈ ${format(side === "buy" ? props.bestAsk : props.bestBid, pd)})`}
          </span>
        </div>
      )}
      <label className="field">
        <span>{spending ? "Total" : "Amount"}</span>
        {spending ? (
          <DecimalField
            name="quote_qty"
            value={spendText}
            title={
              side === "buy"
                ? `What to spend, in ${m.quote}, fees included (what is not spent is returned)`
                : `The ${m.quote} value of ${m.base} to sell, before the fee (the fee comes out of what you receive)`
            }
            onChange={setSpendText}
          />
        ) : (
          <DecimalField
            name="qty"
            value={qty}
            title={`Amount step ${toPlain(m.lot_size)} ${m.base}`}
            onChange={setQty}
            onBlur={() => setQty((q) => snapQty(m, q))}
          />
        )}
        {type === "market" ? (
          // a market order gives its amount or its total (a buy's to spend, a sell's value to sell), as the unit
          // says
          <select
            className="field-unit"
            aria-label="Amount in"
            value={spending ? "quote" : "base"}
            onChange={(e) => setByTotal(e.target.value === "quote")}
          >
            <option value="base">{m.base}</option>
            <option value="quote">{m.quote}</option>
          </select>
        ) : (
          <em>{m.base}</em>
        )}
      </label>
      <div className="pcts" role="group" aria-label="Percent of available">
        {[25, 50, 75, 100].map((p) => (
          <button type="button" key={p} onClick={() => setPct(p)} disabled={!session}>
            {p}%
          </button>
        ))}
      </div>
      {type === "limit" && (
        <div className="opts">
          <label>
            <input type="checkbox" name="post_only" checked={postOnly} onChange={(e) => (setPostOnly(e.target.checked), e.target.checked && setTif("gtc"))} />
            Post-only
          </label>
          {/* post-only rests or nothing: it needs GTC, so each choice gives way to the other */}
          <label title={TIF_TEXT[tif][1]}>
            <span aria-hidden="true">TIF</span>
            <select
              name="tif"
              value={tif}
              aria-label="Time in force"
              onChange={(e) => {
                const next = e.target.value as Tif;
                setTif(next);
                if (next !== "gtc") setPostOnly(false);
              }}
            >
              {TIFS.map((k) => (
                <option key={k} value={k} title={TIF_TEXT[k][1]}>
                  {TIF_TEXT[k][0]}
                </option>
              ))}
            </select>
          </label>
        </div>
      )}
      {/* every amount at its asset's decimals, all of them, rounded against the trader where finer (the rule:
          lib/orderForm.ts formAmountText) */}
      <dl className="summary">
        <dt>Available</dt>
        <dd data-testid="available">
          {formAmountText(m, "available", side, (side === "buy" ? quote : base)?.available ?? (session ? "0" : null))}
        </dd>
        {spending && (
          <>
            <dt>Est. amount</dt>
            <dd data-testid="est-amount">{spent ? formAmountText(m, "amount", side, spent.filled_qty) : "—"}</dd>
          </>
        )}
        {/* a sell by total: what the trader would receive, the value sold less the fee */}
        <dt>{spending && side === "sell" ? "Est. proceeds" : type === "market" ? "Est. total" : "Total"}</dt>
        <dd data-testid="est-total" title={spending && side === "sell" ? "What you would receive: the value sold less the fee" : undefined}>
          {check.total ? formAmountText(m, "total", side, check.total) : "—"}
        </dd>
        <dt>Est. fee</dt>
        <dd
          data-testid="est-fee"
          data-role={spending ? "taker" : role}
          title={
            spending || role === "taker"
              ? `Taker fee ${pctText(m.taker_fee)}: the order would trade at once`
              : `Maker fee ${pctText(m.maker_fee)}: the order would rest on the book`
          }
        >
          {check.fee ? formAmountText(m, "fee", side, check.fee) : "—"}
        </dd>
      </dl>
      {session ? (
        <button
          type="submit"
          className={`btn btn-${side}`}
          disabled={check.reason !== null || busy}
          data-testid="submit-order"
          onPointerDown={(e) => void (touchSubmit.current = e.pointerType === "touch")}
        >
          {side === "buy" ? "Buy" : "Sell"} {m.base}
        </button>
      ) : (
        // logged out: what to do first, in place of the button (it comes back here after logging in)
        <a className={`btn btn-${side}`} href={authHref("login", window.location.hash.slice(1))} data-testid="login-to-trade">
          Log in to trade
        </a>
      )}
      {/* under the button, not above it: a notice that comes and goes with the estimate must not move it */}
      {shortfall && (
        <p className="small accent market-shortfall" data-testid="market-shortfall" role="status">
          {shortfall}
        </p>
      )}
      {selfTrade && (
        <p className="small accent market-shortfall" data-testid="self-trade-warning" role="status">
          {selfTrade}
        </p>
      )}
      {carried && (
        <p className="small accent market-shortfall" data-testid="order-carry" role="status">
          {carried}
        </p>
      )}
      <p
        className="form-reason"
        data-testid="order-reason"
        aria-live="polite"
        title={pctReason || check.reason ? undefined : serverError?.code}
        data-code={pctReason || check.reason ? undefined : serverError?.code}
      >
        {(session ? (pctReason ?? check.reason ?? serverError?.text) : null) ?? "\u00a0"}
      </p>
    </form>
  );
}

/** A fee rate as a percentage: "0.001" -> "0.1%". */
function pctText(rate: string): string {
  const n = Number(rate) * 100;
  return `${Number.isFinite(n) ? Number(n.toPrecision(6)) : rate}%`;
}
