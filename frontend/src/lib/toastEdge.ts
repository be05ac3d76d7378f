/**
 * Where a phone shows its toasts. They span the screen's width there, so wherever they sit they cover
 * something for a few seconds: at the bottom by default, clear of the header (logo, navigation, log out);
 * but when the control the user last touched or focused is in the lower half of the screen (a form's
 * submit button they scrolled down to, the field they are typing in), at the top under the header, so a
 * notice never lands on the control in use. Wider screens keep theirs at the bottom right (styles.css).
 */

export type ToastEdge = "top" | "bottom";

/** The part of the screen a control takes (viewport coordinates: a `getBoundingClientRect()`). */
export interface Span {
  top: number;
  bottom: number;
}

/** The edge for the toasts, given the control in use (null: none) and the screen's height. */
export function toastEdge(inUse: Span | null, viewportHeight: number): ToastEdge {
  if (!inUse || inUse.bottom <= 0 || inUse.top >= viewportHeight) return "bottom"; // none in sight
  return (inUse.top + inUse.bottom) / 2 > viewportHeight / 2 ? "top" : "bottom";
}
