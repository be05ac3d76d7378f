export type SortDir = "asc" | "desc";

/** A sortable column's header. The sort mark sits on the side away from the column's alignment edge
 * (after a left-aligned label, before a right-aligned one), so the label lines up with the values under
 * it whether or not the column is sorted by. The header's `aria-sort` tells assistive technology the
 * order; the mark is only drawn. */
export function SortHeader<K extends string>(props: {
  label: string;
  k: K;
  sort: { key: K; dir: SortDir };
  onSort: (k: K) => void;
  align?: "left" | "right";
  className?: string;
}) {
  const active = props.sort.key === props.k;
  const right = props.align !== "left";
  const mark = (
    <span className="sort-mark" aria-hidden="true">
      {active ? (props.sort.dir === "asc" ? "▲" : "▼") : ""}
    </span>
  );
  return (
    <th
      className={[right ? "num" : "", props.className ?? ""].join(" ").trim() || undefined}
      aria-sort={active ? (props.sort.dir === "asc" ? "ascending" : "descending") : "none"}
    >
      <button className="sort-btn" onClick={() => props.onSort(props.k)}>
        {right && mark}
        {props.label}
        {!right && mark}
      </button>
    </th>
  );
}
