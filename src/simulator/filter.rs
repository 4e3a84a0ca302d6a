//! ListUsers' filter language: `attribute = "value"` (exact) or
//! `attribute ^= "prefix"`, on the standard attributes Cognito can search,
//! with `\"` and `\\` escapes inside the quotes and optional whitespace.

use super::answer::{ApiError, invalid};
use super::users::User;

/// Attributes ListUsers can search.
const SEARCHABLE: [&str; 10] = [
    "username",
    "email",
    "phone_number",
    "name",
    "given_name",
    "family_name",
    "preferred_username",
    "cognito:user_status",
    "status",
    "sub",
];

/// A parsed ListUsers filter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Filter {
    attribute: String,
    prefix: bool,
    value: String,
}

fn parse_error() -> ApiError {
    invalid("Error while parsing filter.")
}

impl Filter {
    /// Parses a non-empty filter string.
    pub(crate) fn parse(text: &str) -> Result<Filter, ApiError> {
        let text = text.trim();
        let name_end = text
            .find(|c: char| c.is_whitespace() || c == '=' || c == '^' || c == '"')
            .ok_or_else(parse_error)?;
        let attribute = &text[..name_end];
        let rest = text[name_end..].trim_start();
        let (prefix, rest) = if let Some(rest) = rest.strip_prefix("^=") {
            (true, rest)
        } else if let Some(rest) = rest.strip_prefix('=') {
            (false, rest)
        } else {
            return Err(parse_error());
        };
        let quoted = rest
            .trim_start()
            .strip_prefix('"')
            .ok_or_else(parse_error)?;
        let (value, tail) = unquote(quoted).ok_or_else(parse_error)?;
        if !tail.trim().is_empty() || !SEARCHABLE.contains(&attribute) {
            return Err(parse_error());
        }
        Ok(Filter {
            attribute: attribute.to_owned(),
            prefix,
            value,
        })
    }

    /// Whether the user, listed as `username`, matches.
    pub(crate) fn matches(&self, username: &str, user: &User) -> bool {
        let actual = match self.attribute.as_str() {
            "username" => username.to_owned(),
            "status" => if user.enabled { "Enabled" } else { "Disabled" }.to_owned(),
            // The only case-insensitive search attribute.
            "cognito:user_status" => {
                return self.compare(&user.status.to_uppercase(), &self.value.to_uppercase());
            }
            other => match user.attribute(username, other) {
                Some(value) => value,
                None => return false,
            },
        };
        self.compare(&actual, &self.value)
    }

    fn compare(&self, actual: &str, wanted: &str) -> bool {
        if self.prefix {
            actual.starts_with(wanted)
        } else {
            actual == wanted
        }
    }
}

/// The quoted value up to its closing quote, unescaped, and what follows.
fn unquote(text: &str) -> Option<(String, &str)> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((value, &text[i + 1..])),
            '\\' => value.push(chars.next()?.1),
            c => value.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_accepts_both_operators_with_or_without_spaces() {
        let f = Filter::parse(r#"email^="ann""#).unwrap();
        assert!(f.prefix);
        assert_eq!(f.attribute, "email");
        let f = Filter::parse(r#"  family_name =   "O\"Brien"  "#).unwrap();
        assert!(!f.prefix);
        assert_eq!(f.value, "O\"Brien");
    }

    #[test]
    fn filter_refuses_what_cognito_cannot_parse() {
        for bad in [
            r#"custom:team = "a""#,
            r#"email == "a""#,
            r#"email = a"#,
            r#"email = "a"#,
            r#"email = "a" extra"#,
            r#"= "a""#,
            "email",
            r#"email ~ "a""#,
        ] {
            let e = Filter::parse(bad).unwrap_err();
            assert_eq!(e.code, "InvalidParameterException", "{bad}");
        }
    }
}
