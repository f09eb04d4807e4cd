//! The HTML index of a directory without an `index.html`.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_encode};

use super::response::{escape_html, page};

/// Bytes left as they are in a link; everything else is percent-encoded, so
/// that `?`, `#`, `%`, `:` or `;` in a file name cannot change what the
/// link means.
const HREF: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

struct Entry {
    name: Vec<u8>,
    is_dir: bool,
    size: u64,
    modified: Option<SystemTime>,
}

/// Renders the listing of `dir`, shown to the user as `url_path` (decoded,
/// ending with `/`).
pub fn render(dir: &Path, url_path: &str) -> io::Result<String> {
    let mut entries = Vec::new();
    for entry in fs::read_dir(dir)? {
        // An entry that vanished or cannot be examined is left out rather than
        // failing the whole listing.
        let Ok(entry) = entry else { continue };
        let path = entry.path();
        // Follow symlinks to show what a click would get; a dangling one is
        // still listed, as itself.
        let Ok(meta) = fs::metadata(&path).or_else(|_| fs::symlink_metadata(&path)) else {
            continue;
        };
        entries.push(Entry {
            name: entry.file_name().as_bytes().to_vec(),
            is_dir: meta.is_dir(),
            size: meta.len(),
            modified: meta.modified().ok(),
        });
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));

    let title = format!("Index of {}", escape_html(url_path));
    let mut rows = String::with_capacity(128 * (entries.len() + 1));
    if url_path != "/" {
        rows.push_str("<tr><td><a href=\"../\">../</a></td><td></td><td></td></tr>\n");
    }
    for entry in &entries {
        let slash = if entry.is_dir { "/" } else { "" };
        let href = percent_encode(&entry.name, HREF);
        let name = escape_html(&String::from_utf8_lossy(&entry.name));
        let size = if entry.is_dir {
            "-".to_owned()
        } else {
            human_size(entry.size)
        };
        let modified = entry.modified.map(format_time).unwrap_or_default();
        let _ = writeln!(
            rows,
            "<tr><td><a href=\"{href}{slash}\">{name}{slash}</a></td>\
             <td class=\"size\" title=\"{bytes} bytes\">{size}</td><td>{modified}</td></tr>",
            bytes = entry.size,
        );
    }
    let content = format!(
        "<h1>{title}</h1>\n<table>\n\
         <tr><th>Name</th><th class=\"size\">Size</th><th>Modified (UTC)</th></tr>\n\
         {rows}</table>\n"
    );
    Ok(page(&title, &content))
}

/// `1536` as `1.5 KiB`; bytes below 1 KiB as a plain number.
fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return bytes.to_string();
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A time as `YYYY-MM-DD HH:MM` in UTC; times before 1970 show as the epoch.
fn format_time(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60
    )
}

/// Converts days since 1970-01-01 to a (year, month, day) in the proleptic
/// Gregorian calendar, counting in 400-year eras of 146 097 days each.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Shift the epoch to 0000-03-01 so that leap days fall at the end of a year.
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates() {
        let at = |secs| format_time(UNIX_EPOCH + Duration::from_secs(secs));
        assert_eq!(at(0), "1970-01-01 00:00");
        assert_eq!(at(951_782_400), "2000-02-29 00:00");
        assert_eq!(at(1_709_210_096), "2024-02-29 12:34");
        assert_eq!(at(4_102_444_799), "2099-12-31 23:59");
    }

    #[test]
    fn sizes() {
        assert_eq!(human_size(0), "0");
        assert_eq!(human_size(1023), "1023");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(5 << 30), "5.0 GiB");
        assert_eq!(human_size(u64::MAX), "16.0 EiB");
    }

    #[test]
    fn lists_sorted_escaped_entries() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("b.txt"), "bb").unwrap();
        fs::write(dir.path().join("a b&<c>.txt"), "").unwrap();
        fs::write(dir.path().join(".hidden"), "").unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        let html = render(dir.path(), "/x&y/").unwrap();
        assert!(html.contains("<title>Index of /x&amp;y/</title>"));
        assert!(html.contains("<a href=\"../\">../</a>"));
        assert!(html.contains("<a href=\"a%20b%26%3Cc%3E.txt\">a b&amp;&lt;c&gt;.txt</a>"));
        assert!(html.contains("<a href=\"sub/\">sub/</a>"));
        assert!(html.contains("<a href=\".hidden\">.hidden</a>"));
        let order: Vec<usize> = [".hidden", "a%20b", "b.txt", "sub/"]
            .iter()
            .map(|name| html.find(&format!("href=\"{name}")).unwrap())
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{html}");
        assert!(!render(dir.path(), "/").unwrap().contains("href=\"../\""));
    }
}
