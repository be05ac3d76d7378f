/**
 * The one text input for a decimal amount (order price and amount, the volume of "Prices for a volume"):
 * a decimal keypad on phones, no autofill, and a typed comma made a point before the caller sees the text.
 * The value stays the caller's string; every other input attribute (name, id, placeholder, aria-*, onBlur,
 * disabled, ...) passes through unchanged.
 */
import type { InputHTMLAttributes } from "react";
import { typedDecimal } from "../lib/money";

type Owned = "value" | "defaultValue" | "onChange" | "type" | "inputMode" | "autoComplete";

export interface DecimalFieldProps extends Omit<InputHTMLAttributes<HTMLInputElement>, Owned> {
  value: string;
  onChange: (value: string) => void;
}

export function DecimalField({ value, onChange, ...rest }: DecimalFieldProps) {
  return (
    <input
      {...rest}
      inputMode="decimal"
      autoComplete="off"
      value={value}
      onChange={(e) => onChange(typedDecimal(e.target.value))}
    />
  );
}
