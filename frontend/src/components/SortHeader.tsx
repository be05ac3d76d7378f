export type SortDir = "asc" | "desc";

export function SortHeader<K extends string>(props: {
  label: string;
  k: K;
  sort: { key: K; dir: SortDir };
  onSort: (k: K) => void;
  align?: "left" | "right";
  className?: string;
}) {
  const active = props.sort.key === props.k;
  return (
    <th
      className={[props.align === "left" ? "" : "num", props.className ?? ""].join(" ").trim() || undefined}
      aria-sort={active ? (props.sort.dir === "asc" ? "ascending" : "descending") : "none"}
    >
      <button className="sort-btn" onClick={() => props.onSort(props.k)}>
        {props.label}
        <span className="sort-mark">{active ? (props.sort.dir === "asc" ? "▲" : "▼") : ""}</span>
      </button>
    </th>
  );
}
