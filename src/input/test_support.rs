//! Helpers shared by the readers' unit tests.

use super::{Format, Invalid, Item, ItemReader, ReadOptions, Row};

/// The pool rows get when they name none.
pub(crate) const DEFAULT_POOL: &str = "eu-west-1_Default";

/// Every item of `text` read as `format`, with a default pool.
pub(crate) fn items(format: Format, text: &[u8]) -> Vec<Item> {
    ItemReader::new(text, &options(format), "test")
        .unwrap()
        .collect()
}

/// Options for `format` with the default username column and pool.
pub(crate) fn options(format: Format) -> ReadOptions {
    ReadOptions {
        format,
        username_column: "username".into(),
        default_pool: Some(DEFAULT_POOL.into()),
    }
}

/// A valid row in the default pool without metadata.
pub(crate) fn row(line: u64, username: &str) -> Item {
    Item::Row(Row {
        line,
        username: username.into(),
        pool: DEFAULT_POOL.into(),
        metadata: vec![],
        known: None,
    })
}

/// The item's error code, or "ok" for a row.
pub(crate) fn code(item: &Item) -> &'static str {
    match item {
        Item::Invalid(i) => i.code,
        Item::Row(_) => "ok",
    }
}

/// The item's line.
pub(crate) fn line(item: &Item) -> u64 {
    match item {
        Item::Invalid(i) => i.line,
        Item::Row(r) => r.line,
    }
}

/// The item as an invalid one; panics on a row.
#[track_caller]
pub(crate) fn invalid(item: &Item) -> &Invalid {
    match item {
        Item::Invalid(i) => i,
        Item::Row(r) => panic!("expected an invalid item, got {r:?}"),
    }
}

/// Like [`items`], but the reader hands out one byte a read, so that every
/// line ending and quote is split across reads.
pub(crate) fn items_trickled(format: Format, text: &[u8]) -> Vec<Item> {
    let reader = std::io::BufReader::with_capacity(1, text);
    ItemReader::new(reader, &options(format), "test")
        .unwrap()
        .collect()
}
