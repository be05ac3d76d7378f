/** The star that keeps a pair among the favorites (the markets list's "Favorites" view). */
import { useFavorites } from "../lib/hooks";

export function FavoriteStar(props: { symbol: string; label: string }) {
  const [favorites, toggle] = useFavorites();
  const on = favorites.includes(props.symbol);
  return (
    <button
      type="button"
      className={`star${on ? " on" : ""}`}
      aria-pressed={on}
      aria-label={`${on ? "Remove" : "Add"} ${props.label} ${on ? "from" : "to"} favorites`}
      title={on ? "Remove from favorites" : "Add to favorites"}
      data-testid="favorite-star"
      onClick={(e) => {
        e.stopPropagation(); // a row that opens its market on a click: the star only stars
        toggle(props.symbol);
      }}
      onKeyDown={(e) => e.stopPropagation()} // Enter / Space on the star: not the row's
    >
      {on ? "★" : "☆"}
    </button>
  );
}
