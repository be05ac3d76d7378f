/** A throttled call: `fn` runs at once when it last ran `ms` or more ago, otherwise once at the end of that
 * window, however many calls came in between (the last state wins, nothing is lost). `cancel()` drops a
 * pending run. */
export interface Throttled {
  (): void;
  cancel(): void;
}

export function throttle(fn: () => void, ms: number): Throttled {
  let last = -Infinity;
  let timer: ReturnType<typeof setTimeout> | null = null;
  const run = () => {
    timer = null;
    last = Date.now();
    fn();
  };
  const call = (() => {
    if (timer !== null) return; // a run is already due: it covers this call
    const wait = last + ms - Date.now();
    if (wait <= 0) run();
    else timer = setTimeout(run, wait);
  }) as Throttled;
  call.cancel = () => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
  };
  return call;
}
