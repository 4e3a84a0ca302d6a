//! `--exclude FILE`: users never to touch — break-glass and service
//! accounts. Read like an input (one username per line, or CSV/JSONL by
//! extension); a row may name its pool, otherwise it excludes that username
//! in every pool. A line that cannot be read stops the run before it starts:
//! an exclusion silently dropped could reset a break-glass account.

use std::collections::HashSet;

use super::{Format, Item, ItemReader, ReadOptions};
use crate::exit::StartError;

/// The users never to touch.
#[derive(Debug, Default, Clone)]
pub struct Exclusions {
    /// (pool, username); an empty pool means every pool.
    exact: HashSet<(String, String)>,
    /// The same with usernames lower-cased, for pools that ignore case.
    folded: HashSet<(String, String)>,
}

fn fold(username: &str) -> String {
    username.to_lowercase()
}

impl Exclusions {
    /// Reads an exclusion file.
    pub fn read(path: &str, username_column: &str) -> Result<Exclusions, StartError> {
        let options = ReadOptions {
            format: Format::from_path(path).unwrap_or(Format::Lines),
            username_column: username_column.to_owned(),
            default_pool: None,
        };
        let file = std::fs::File::open(path).map_err(|e| StartError::io(path, e))?;
        let reader = std::io::BufReader::new(file);
        let mut exclusions = Exclusions::default();
        for item in ItemReader::new(reader, &options, path)? {
            let (pool, username) = match item {
                Item::Row(row) => (row.pool, row.username),
                Item::Invalid(i) if i.code == "MissingUserPoolId" => (String::new(), i.username),
                Item::Invalid(i) => {
                    return Err(StartError::Usage(format!(
                        "--exclude {}: line {}: {} ({}); fix the list, an exclusion must not be \
                         dropped",
                        crate::progress::escape(path),
                        i.line,
                        crate::progress::escape(&i.message),
                        i.code
                    )));
                }
            };
            exclusions.add(&pool, &username);
        }
        Ok(exclusions)
    }

    /// Excludes `username` in `pool` (every pool when empty).
    pub fn add(&mut self, pool: &str, username: &str) {
        self.folded.insert((pool.to_owned(), fold(username)));
        self.exact.insert((pool.to_owned(), username.to_owned()));
    }

    /// Every (pool, username) listed as given; an empty pool: every pool.
    pub fn entries(&self) -> Vec<(String, String)> {
        let mut entries: Vec<_> = self.exact.iter().cloned().collect();
        entries.sort();
        entries
    }

    /// Users listed.
    pub fn len(&self) -> usize {
        self.exact.len()
    }

    /// Whether none are.
    pub fn is_empty(&self) -> bool {
        self.exact.is_empty()
    }

    /// Whether a row is excluded; `fold` compares usernames case-insensitively.
    pub fn contains(&self, pool: &str, username: &str, fold_case: bool) -> bool {
        if self.exact.is_empty() {
            return false;
        }
        let (set, name) = if fold_case {
            (&self.folded, fold(username))
        } else {
            (&self.exact, username.to_owned())
        };
        set.contains(&(pool.to_owned(), name.clone())) || set.contains(&(String::new(), name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusions_match_by_pool_or_everywhere_and_fold_case_where_asked() {
        let mut e = Exclusions::default();
        e.add("", "breakglass");
        e.add("eu-west-1_A", "svc");
        assert!(e.contains("eu-west-1_B", "breakglass", false));
        assert!(e.contains("eu-west-1_A", "svc", false));
        assert!(!e.contains("eu-west-1_B", "svc", false));
        assert!(!e.contains("eu-west-1_B", "BreakGlass", false));
        assert!(e.contains("eu-west-1_B", "BreakGlass", true));
    }

    #[test]
    fn an_unreadable_exclusion_line_stops_the_run() {
        let dir = std::env::temp_dir().join(format!("cr-exclude-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.txt");
        std::fs::write(&path, "ok\nhas space\n").unwrap();
        let err = Exclusions::read(path.to_str().unwrap(), "username").unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
        std::fs::write(&path, "ok\n\nsvc\n").unwrap();
        let e = Exclusions::read(path.to_str().unwrap(), "username").unwrap();
        assert_eq!(e.len(), 2);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
