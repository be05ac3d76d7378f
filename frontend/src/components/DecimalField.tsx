/**
 * The one text input for a decimal amount (order price and amount, the volume of "Prices for a volume"):
 * a decimal keypad on phones, no autofill, and a typed comma made a point before the caller sees the text
 * (the field itself keeps showing the comma).
 * The value stays the caller's string; every other input attribute (name, id, placeholder, aria-*, onBlur,
 * disabled, ...) passes through unchanged.
 */
import { useState, type InputHTMLAttributes } from "react";
import { typedDecimal } from "../lib/money";

type Owned = "value" | "defaultValue" | "onChange" | "type" | "inputMode" | "autoComplete";

export interface DecimalFieldProps extends Omit<InputHTMLAttributes<HTMLInputElement>, Owned> {
  value: string;
  /** `key`: the edit typed one character (a key press), not text that arrived whole (a paste, autofill, a
   * deletion): a price field refuses a key past the tick's decimals (lib/orderForm.ts editPrice) */
  onChange: (value: string, edit: { key: boolean }) => void;
}

export function DecimalField({ value, onChange, ...rest }: DecimalFieldProps) {
  // the field shows what was typed ("12,5"; the caller gets "12.5"), so "12,000" typed key by key stays
  // "12,000", which the caller's `parse` refuses, instead of turning into "12." at the comma and 12.000
  // at the last key; a value set by the caller (a price picked from the book, a snap) replaces it
  const [typed, setTyped] = useState({ raw: value, value });
  let raw = typed.raw;
  if (typed.value !== value) {
    raw = value;
    setTyped({ raw: value, value });
  }
  return (
    <input
      {...rest}
      inputMode="decimal"
      autoComplete="off"
      value={raw}
      onChange={(e) => {
        const next = typedDecimal(e.target.value);
        const input = e.nativeEvent as InputEvent;
        setTyped({ raw: e.target.value, value: next });
        onChange(next, { key: input.inputType === "insertText" && input.data?.length === 1 });
      }}
    />
  );
}
