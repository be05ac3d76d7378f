/**
 * The account's login sessions (`GET /api/auth/sessions`) as the Devices tab shows them: which device
 * each is, read from the User-Agent its login sent ("Chrome 120 on Linux", "Safari 17 on iPhone",
 * "curl 8.5.0"), and logging several out one after another.
 */

/** How long a User-Agent the parser cannot read is shown (its whole text is the cell's tooltip). */
export const RAW_UA_MAX = 40;

/** Browsers, the first that matches naming the session: the order matters, since Edge, Opera and Samsung
 * Internet also say "Chrome/", and every Chromium browser also says "Safari/". */
const BROWSERS: [RegExp, string][] = [
  [/\bEdg(?:e|A|iOS)?\/(\d+)/, "Edge"],
  [/\b(?:OPR|OPT|OPX)\/(\d+)/, "Opera"],
  [/\bSamsungBrowser\/(\d+)/, "Samsung Internet"],
  [/\bYaBrowser\/(\d+)/, "Yandex Browser"],
  [/\bVivaldi\/(\d+)/, "Vivaldi"],
  [/\bHeadlessChrome\/(\d+)/, "Headless Chrome"],
  [/\b(?:Firefox|FxiOS)\/(\d+)/, "Firefox"],
  [/\b(?:CriOS|Chrome)\/(\d+)/, "Chrome"],
  [/\bChromium\/(\d+)/, "Chromium"],
  [/\bVersion\/(\d+)[\d.]*(?: Mobile\/\S+)? Safari\//, "Safari"],
  [/\bMSIE (\d+)|\bTrident\/.*\brv:(\d+)/, "Internet Explorer"],
];

/** Operating systems and devices, the first that matches: Android says "Linux" too, iPhones "Mac OS X". */
const SYSTEMS: [RegExp, string][] = [
  [/\biPhone\b/, "iPhone"],
  [/\biPad\b/, "iPad"],
  [/\biPod\b/, "iPod"],
  [/\bAndroid\b/, "Android"],
  [/\bWindows\b/, "Windows"],
  [/\bCrOS\b/, "ChromeOS"],
  [/\bMac(?:intosh| OS X)\b/, "macOS"],
  [/\bFreeBSD\b/, "FreeBSD"],
  [/\b(?:Linux|X11)\b/, "Linux"],
];

/** A short description of the device a session logged in from, read from its User-Agent: "Chrome 120 on
 * Linux", "Firefox 121 on Windows", "Safari 17 on iPhone"; a program that names itself first
 * ("python-httpx/0.27.0", "curl/8.5.0") is that program and its version; anything else is the raw text,
 * cut to RAW_UA_MAX characters; an empty one is "Unknown device". */
export function deviceName(userAgent: string | null | undefined): string {
  const ua = (userAgent ?? "").trim();
  if (!ua) return "Unknown device";
  if (ua.startsWith("Mozilla/")) {
    const browser = BROWSERS.map(([re, name]) => {
      const m = re.exec(ua);
      return m ? `${name} ${m[1] ?? m[2]}` : null;
    }).find((b) => b !== null);
    const system = SYSTEMS.find(([re]) => re.test(ua))?.[1];
    if (browser && system) return `${browser} on ${system}`;
    if (browser) return browser;
    if (system) return `Browser on ${system}`;
  }
  const tool = ua.startsWith("Mozilla/") ? null : toolName(ua);
  return tool ?? truncate(ua, RAW_UA_MAX);
}

/** A language runtime that a client library names before itself ("Python/3.11 aiohttp/3.9.1"). */
const RUNTIME = /^(?:Python|Java|Ruby|PHP|Node(?:\.js)?|Dart)$/i;

/** A client library or tool that names itself first: "curl/8.5.0" is "curl 8.5.0", "python-httpx/0.27.0"
 * "python-httpx 0.27.0", "Python/3.11 aiohttp/3.9.1" "aiohttp 3.9.1"; null for anything else. */
function toolName(ua: string): string | null {
  const tokens = ua.split(/\s+/).map((t) => /^([A-Za-z][\w.+-]*)\/(v?\d[\w.+-]*)$/.exec(t));
  if (!tokens[0]) return null;
  const pick = RUNTIME.test(tokens[0][1]) && tokens[1] ? tokens[1] : tokens[0];
  return `${pick[1]} ${truncate(pick[2], 16)}`;
}

function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1).trimEnd()}…`;
}

/** The question before "Log out all other devices". */
export function logOutOthersPrompt(count: number): string {
  return count === 1
    ? "Log out the other device? It will have to log in again."
    : `Log out all ${count.toLocaleString("en-US")} other devices? They will have to log in again.`;
}

/** What logging several sessions out came to: the ids that are no longer live, and the error that stopped
 * the rest (the ids after it were not tried). */
