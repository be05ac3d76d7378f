import { describe, expect, it } from "vitest";
import { deviceName, logOutOthersPrompt, RAW_UA_MAX } from "./devices";

const UA = {
  chromeLinux: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
  chromeWindows: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
  chromeMac: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
  chromeAndroid:
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36",
  chromeIphone:
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1",
  chromeOs: "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36",
  headless:
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.6099.28 Safari/537.36",
  firefoxWindows: "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
  firefoxLinux: "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
  firefoxAndroid: "Mozilla/5.0 (Android 14; Mobile; rv:125.0) Gecko/125.0 Firefox/125.0",
  firefoxIphone:
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/121.0 Mobile/15E148 Safari/605.1.15",
  safariIphone:
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1.2 Mobile/15E148 Safari/604.1",
  safariIpad:
    "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
  safariMac: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15",
  edge: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91",
  opera: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 OPR/106.0.0.0",
  samsung:
    "Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
  ie11: "Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko",
};

describe("deviceName", () => {
  it("names the browser, its major version and the system", () => {
    expect(deviceName(UA.chromeLinux)).toBe("Chrome 120 on Linux");
    expect(deviceName(UA.chromeWindows)).toBe("Chrome 131 on Windows");
    expect(deviceName(UA.chromeMac)).toBe("Chrome 124 on macOS");
    expect(deviceName(UA.chromeOs)).toBe("Chrome 119 on ChromeOS");
    expect(deviceName(UA.firefoxWindows)).toBe("Firefox 121 on Windows");
    expect(deviceName(UA.firefoxLinux)).toBe("Firefox 128 on Linux");
    expect(deviceName(UA.safariMac)).toBe("Safari 17 on macOS");
    expect(deviceName(UA.ie11)).toBe("Internet Explorer 11 on Windows");
  });

  it("tells phones and tablets from the desktop systems their User-Agents also name", () => {
    expect(deviceName(UA.safariIphone)).toBe("Safari 17 on iPhone"); // "like Mac OS X"
    expect(deviceName(UA.safariIpad)).toBe("Safari 16 on iPad");
    expect(deviceName(UA.chromeAndroid)).toBe("Chrome 120 on Android"); // "Linux; Android"
    expect(deviceName(UA.chromeIphone)).toBe("Chrome 120 on iPhone"); // CriOS, also "Safari/"
    expect(deviceName(UA.firefoxIphone)).toBe("Firefox 121 on iPhone"); // FxiOS
    expect(deviceName(UA.firefoxAndroid)).toBe("Firefox 125 on Android");
  });

  it("names the Chromium browsers that also say Chrome and Safari by their own names", () => {
    expect(deviceName(UA.edge)).toBe("Edge 120 on Windows");
    expect(deviceName(UA.opera)).toBe("Opera 106 on Windows");
    expect(deviceName(UA.samsung)).toBe("Samsung Internet 23 on Android");
    expect(deviceName(UA.headless)).toBe("Headless Chrome 120 on Linux");
  });

  it("names a program by the product token it starts with", () => {
    expect(deviceName("python-httpx/0.27.0")).toBe("python-httpx 0.27.0");
    expect(deviceName("curl/8.5.0")).toBe("curl 8.5.0");
    expect(deviceName("python-requests/2.31.0")).toBe("python-requests 2.31.0");
    expect(deviceName("Go-http-client/1.1")).toBe("Go-http-client 1.1");
    expect(deviceName("okhttp/4.12.0")).toBe("okhttp 4.12.0");
    expect(deviceName("PostmanRuntime/7.36.0")).toBe("PostmanRuntime 7.36.0");
    expect(deviceName("Wget/1.21.4 (linux-gnu)")).toBe("Wget 1.21.4");
    // a library after the language runtime it runs on is the more telling name
    expect(deviceName("Python/3.11 aiohttp/3.9.1")).toBe("aiohttp 3.9.1");
    expect(deviceName("python-httpx/0.27.0-with-a-very-long-local-build-suffix")).toBe("python-httpx 0.27.0-with-a-v…");
  });

  it("shows what it cannot read as the raw text, cut short, and an empty one as an unknown device", () => {
    expect(deviceName("my-trading-bot")).toBe("my-trading-bot");
    const long = "Some custom client built in-house for the desk, version seven";
    const shown = deviceName(long);
    expect(shown).toHaveLength(RAW_UA_MAX);
    expect(shown.endsWith("…")).toBe(true);
    expect(long.startsWith(shown.slice(0, -1))).toBe(true);
    expect(deviceName("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")).toBe(
      "Mozilla/5.0 (compatible; Googlebot/2.1;…",
    );
    expect(deviceName("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)")).toBe("Browser on Linux");
    expect(deviceName("")).toBe("Unknown device");
    expect(deviceName("   ")).toBe("Unknown device");
    expect(deviceName(null)).toBe("Unknown device");
    expect(deviceName(undefined)).toBe("Unknown device");
  });
});

describe("logOutOthersPrompt", () => {
  it("counts the sessions it logs out", () => {
    expect(logOutOthersPrompt(1)).toBe("Log out the other device? It will have to log in again.");
    expect(logOutOthersPrompt(3)).toBe("Log out all 3 other devices? They will have to log in again.");
    expect(logOutOthersPrompt(1200)).toContain("all 1,200 other devices");
  });
});
