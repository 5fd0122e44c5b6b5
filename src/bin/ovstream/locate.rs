//! Where in a pipeline file a value problem is: the line and column of the key its message
//! names (`detect.threshold = …`, `classify[1].batch: …`, `[output.mqtt]: qos …`,
//! `alerts `fall`: min_duration …`), found in the file's own text with `toml_edit`'s spans.

use toml_edit::{ImDocument, Item, TableLike};

/// Where a walk through the message's words stands in the document.
#[derive(Clone, Copy)]
enum At<'a> {
    Table(&'a dyn TableLike),
    Tables(&'a toml_edit::ArrayOfTables),
    Leaf,
}

/// Line and column (1-based) of the deepest key `message` names in `text`, or `None` when
/// the text does not parse or the message names no key of it.
pub(crate) fn locate(text: &str, message: &str) -> Option<(usize, usize)> {
    let doc = ImDocument::parse(text).ok()?;
    let root = At::Table(doc.as_table());
    let mut at = root;
    let mut found = None;
    let mut moved = false;
    for word in words(message) {
        if let Some(name) = word.strip_prefix('`') {
            if let At::Tables(tables) = at {
                if let Some(t) = tables.iter().find(|t| names(t, name)) {
                    at = At::Table(t);
                    moved = true;
                    found = t.span().or(found);
                }
            }
            continue;
        }
        // A path from the top only until one is found: later words are the message's own.
        let step = path(at, word).or_else(|| (!moved).then(|| path(root, word))?);
        if let Some((next, span)) = step {
            at = next;
            moved = true;
            found = span.or(found);
        }
    }
    found.map(|span| line_column(text, span.start))
}

/// The message's words: key paths (`a.b[0].c`) and `` `names` `` (marked by a leading
/// backtick).
fn words(message: &str) -> impl Iterator<Item = &str> {
    let mut out = Vec::new();
    let mut rest = message;
    while let Some(i) = rest.find(|c: char| c == '`' || is_key_char(c)) {
        rest = &rest[i..];
        if let Some(tail) = rest.strip_prefix('`') {
            let end = tail.find('`').unwrap_or(tail.len());
            out.push(&rest[..end + 1]);
            rest = tail.get(end + 1..).unwrap_or("");
        } else {
            let end = rest.find(|c| !is_key_char(c)).unwrap_or(rest.len());
            // `[output.mqtt]` is a table header, `classify[1]` an index.
            let word = rest[..end].trim_start_matches('[');
            out.push(match word.contains('[') {
                true => word,
                false => word.trim_end_matches(']'),
            });
            rest = &rest[end..];
        }
    }
    out.into_iter()
}

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']')
}

/// A table of an array is named by its `name` or `type` key (zones, lines, alerts).
fn names(table: &toml_edit::Table, name: &str) -> bool {
    ["name", "type"]
        .iter()
        .any(|k| table.get(k).and_then(Item::as_str) == Some(name))
}

/// Follows `a.b[0].c` from `at`: the place it leads and the span of its last key.
fn path<'a>(at: At<'a>, word: &str) -> Option<(At<'a>, Option<std::ops::Range<usize>>)> {
    let mut at = at;
    let mut span = None;
    for part in word.split('.').filter(|p| !p.is_empty()) {
        let (key, index) = match part.split_once('[') {
            Some((k, i)) => (k, Some(i.trim_end_matches(']').parse::<usize>().ok()?)),
            None => (part, None),
        };
        let At::Table(table) = at else { return None };
        // "analytics zone `door`" names the `zones` array.
        let (k, item) = table
            .get_key_value(key)
            .or_else(|| table.get_key_value(&format!("{key}s")))?;
        span = k.span().or(span);
        at = match (item, index) {
            (Item::ArrayOfTables(tables), Some(i)) => {
                let t = tables.get(i)?;
                span = t.span().or(span);
                At::Table(t)
            }
            (Item::ArrayOfTables(tables), None) => At::Tables(tables),
            (item, _) => item.as_table_like().map_or(At::Leaf, At::Table),
        };
    }
    Some((at, span))
}

/// 1-based line and column (in characters) of byte `offset`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::locate;

    const TEXT: &str = "[source]\ninput = \"a.avi\"\n[detect]\nthreshold = 1.5\n\
                        [[classify]]\nmodel = \"a\"\n[[classify]]\nmodel = \"b\"\nbatch = 0\n\
                        [output.mqtt]\nurl = \"mqtt://h\"\nqos = 3\n\
                        [[alerts]]\ntype = \"fall\"\n[[alerts]]\ntype = \"run\"\nmax_gap = -1\n\
                        [[analytics.zones]]\nname = \"door\"\ninertia = 0\n";

    #[test]
    fn names_the_line_and_column_of_the_key() {
        let at = |m: &str| locate(TEXT, m);
        assert_eq!(at("detect.threshold = 1.5 is outside [0, 1]"), Some((4, 1)));
        assert_eq!(at("classify[1].batch: 0 is outside 1..=64"), Some((9, 1)));
        assert_eq!(
            at("config [output.mqtt]: qos 3: expected 0, 1 or 2"),
            Some((12, 1))
        );
        assert_eq!(
            at("alerts `run`: max_gap = -1 is outside [0, 86400] s"),
            Some((17, 1))
        );
        assert_eq!(
            at("analytics zone `door`: inertia = 0; expected 1 to 1000 frames"),
            Some((20, 1))
        );
        assert_eq!(at("inputs given twice"), None);
    }
}
