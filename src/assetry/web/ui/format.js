// How sizes, dimensions and types read in the UI.

const UNITS = ["bytes", "kB", "MB", "GB", "TB"];

/** 4686206 -> "4.7 MB" (decimal units, as file managers and the API docs use). */
export function bytes(n) {
  if (n === null || n === undefined) return "";
  let value = n;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit += 1;
  }
  if (unit === 0) return `${n} ${n === 1 ? "byte" : "bytes"}`;
  return `${value >= 100 ? value.toFixed(0) : value.toFixed(1)} ${UNITS[unit]}`;
}

/** 4000, 3000 -> "4000 × 3000"; nothing when unknown. */
export function dimensions(width, height) {
  return width && height ? `${width} × ${height}` : "";
}

/** "image/jpeg" -> "JPEG", "application/pdf" -> "PDF", "text/plain" -> "TEXT/PLAIN". */
export function typeLabel(mime) {
  if (!mime) return "";
  const [major, minor = ""] = mime.split(";")[0].split("/");
  if (major === "image" || major === "application") {
    return minor.replace(/^x-/, "").replace(/\+.*$/, "").toUpperCase();
  }
  return mime.toUpperCase();
}

/** "2026-11-22T02:27:48.729Z" -> the reader's local date and time. */
export function when(timestamp) {
  if (!timestamp) return "";
  const date = new Date(timestamp);
  return Number.isNaN(date.getTime()) ? timestamp : date.toLocaleString();
}
