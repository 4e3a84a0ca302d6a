//! The API's own input checks, done before an operation touches any state:
//! member types (a wrong one is a SerializationException, as the service's
//! deserializer answers) and the model's constraints (length, pattern,
//! range, required), reported all at once in Cognito's
//! `N validation error(s) detected: …` form as InvalidParameterException.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

use super::answer::{ApiError, invalid, serialization};
use super::filter::Filter;
use super::ops::Op;

const NAME_PATTERN: &str = r"[\p{L}\p{M}\p{S}\p{N}\p{P}]+";
const POOL_ID_PATTERN: &str = r"[\w-]+_[0-9a-zA-Z]+";
const CLIENT_ID_PATTERN: &str = r"[\w+]+";
const CLIENT_NAME_PATTERN: &str = r"[\w\s+=,.@-]+";
const TOKEN_PATTERN: &str = r"[\S]+";

static NAME_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[\p{L}\p{M}\p{S}\p{N}\p{P}]+$").expect("valid regex"));
// The model's patterns are Java regexes, where `\w` and `\S` are ASCII.
static POOL_ID_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(?-u:[\w-])+_[0-9a-zA-Z]+$").expect("valid regex"));
static CLIENT_NAME_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(?-u:[\w+=,.@ \t\n\x0B\f\r-])+$").expect("valid regex"));
static CLIENT_ID_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(?-u:[\w+])+$").expect("valid regex"));
// Java's `\s` is exactly these six characters.
static TOKEN_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[^ \t\n\x0B\f\r]+$").expect("valid regex"));

/// A string member's constraints.
struct Rule {
    min: usize,
    max: usize,
    pattern: Option<(&'static LazyLock<Regex>, &'static str)>,
    /// Sensitive members are never echoed in error messages.
    sensitive: bool,
}

const USERNAME: Rule = Rule {
    min: 1,
    max: 128,
    pattern: Some((&NAME_RE, NAME_PATTERN)),
    sensitive: true,
};
const POOL_ID: Rule = Rule {
    min: 1,
    max: 55,
    pattern: Some((&POOL_ID_RE, POOL_ID_PATTERN)),
    sensitive: false,
};
const CLIENT_ID: Rule = Rule {
    min: 1,
    max: 128,
    pattern: Some((&CLIENT_ID_RE, CLIENT_ID_PATTERN)),
    sensitive: true,
};
const CLIENT_NAME: Rule = Rule {
    min: 1,
    max: 128,
    pattern: Some((&CLIENT_NAME_RE, CLIENT_NAME_PATTERN)),
    sensitive: false,
};
const GROUP_NAME: Rule = Rule {
    min: 1,
    max: 128,
    pattern: Some((&NAME_RE, NAME_PATTERN)),
    sensitive: false,
};
const ATTRIBUTE_NAME: Rule = Rule {
    min: 1,
    max: 32,
    pattern: Some((&NAME_RE, NAME_PATTERN)),
    sensitive: false,
};
const FILTER: Rule = Rule {
    min: 0,
    max: 256,
    pattern: None,
    sensitive: false,
};
const TOKEN: Rule = Rule {
    min: 1,
    max: 131_072,
    pattern: Some((&TOKEN_RE, TOKEN_PATTERN)),
    sensitive: false,
};
const ANY: Rule = Rule {
    min: 0,
    max: usize::MAX,
    pattern: None,
    sensitive: false,
};

/// The constraints `value` breaks, in the model's words.
fn broken(value: &str, rule: &Rule) -> Vec<String> {
    let mut out = Vec::new();
    let length = value.chars().count();
    if length < rule.min {
        out.push(format!(
            "Member must have length greater than or equal to {}",
            rule.min
        ));
    }
    if length > rule.max {
        out.push(format!(
            "Member must have length less than or equal to {}",
            rule.max
        ));
    }
    if let Some((re, text)) = rule.pattern
        && !re.is_match(value)
    {
        out.push(format!(
            "Member must satisfy regular expression pattern: {text}"
        ));
    }
    out
}

fn check(value: &str, rule: &Rule) -> Result<(), String> {
    let broken = broken(value, rule);
    if broken.is_empty() {
        Ok(())
    } else {
        Err(broken.join("; "))
    }
}

/// A username Cognito would accept.
pub(crate) fn check_username(value: &str) -> Result<(), String> {
    check(value, &USERNAME)
}

/// A pool id Cognito would accept.
pub(crate) fn check_pool_id(value: &str) -> Result<(), String> {
    check(value, &POOL_ID)
}

/// An app client name Cognito would accept.
pub(crate) fn check_client_name(value: &str) -> Result<(), String> {
    check(value, &CLIENT_NAME)
}

/// A group name Cognito would accept.
pub(crate) fn check_group_name(value: &str) -> Result<(), String> {
    check(value, &GROUP_NAME)
}

/// A request's members, checked. Members an operation does not take stay
/// empty.
#[derive(Debug, Default)]
pub(crate) struct Params {
    pub pool: String,
    pub username: String,
    pub group: String,
    pub filter: Option<Filter>,
    /// `Limit`; `None` when absent or 0.
    pub limit: Option<usize>,
    /// `PaginationToken` or `NextToken`.
    pub token: Option<String>,
    pub attributes: Option<Vec<String>>,
    /// GetProvisionedLimit's `LimitDefinition.Attributes.Category`.
    pub category: Option<String>,
    /// DescribeUserPoolClient's `ClientId`.
    pub client_id: String,
}

/// Checks `body` against `op`'s input model.
pub(crate) fn parse(op: Op, body: &Map<String, Value>) -> Result<Params, ApiError> {
    let mut r = Reader {
        body,
        path: "",
        broken: Vec::new(),
    };
    let mut p = Params::default();
    match op {
        Op::AdminResetUserPassword
        | Op::AdminGetUser
        | Op::AdminUserGlobalSignOut
        | Op::AdminDisableUser => {
            p.username = r.string("Username", true, &USERNAME)?.unwrap_or_default();
            p.pool = r.string("UserPoolId", true, &POOL_ID)?.unwrap_or_default();
            if op == Op::AdminResetUserPassword {
                r.string_map("ClientMetadata")?;
            }
        }
        Op::ListUsers => list_users(&mut r, &mut p)?,
        Op::ListUsersInGroup => {
            p.pool = r.string("UserPoolId", true, &POOL_ID)?.unwrap_or_default();
            p.group = r
                .string("GroupName", true, &GROUP_NAME)?
                .unwrap_or_default();
            p.limit = r.limit()?;
            p.token = r.string("NextToken", false, &TOKEN)?;
        }
        Op::DescribeUserPool => {
            p.pool = r.string("UserPoolId", true, &POOL_ID)?.unwrap_or_default();
        }
        Op::GetProvisionedLimit => p.category = limit_definition(&mut r)?,
        Op::ListUserPoolClients => {
            p.pool = r.string("UserPoolId", true, &POOL_ID)?.unwrap_or_default();
            p.limit = r.number("MaxResults", 1, 60)?;
            p.token = r.string("NextToken", false, &TOKEN)?;
        }
        Op::DescribeUserPoolClient => {
            p.pool = r.string("UserPoolId", true, &POOL_ID)?.unwrap_or_default();
            p.client_id = r.string("ClientId", true, &CLIENT_ID)?.unwrap_or_default();
        }
    }
    r.finish()?;
    Ok(p)
}

fn list_users(r: &mut Reader, p: &mut Params) -> Result<(), ApiError> {
    p.pool = r.string("UserPoolId", true, &POOL_ID)?.unwrap_or_default();
    p.attributes = r.string_list("AttributesToGet", &ATTRIBUTE_NAME)?;
    let filter = r.string("Filter", false, &FILTER)?;
    p.limit = r.limit()?;
    p.token = r.string("PaginationToken", false, &TOKEN)?;
    r.finish_ref()?;
    // An empty filter lists everyone, as the API reference says.
    if let Some(text) = filter.filter(|f| !f.trim().is_empty()) {
        p.filter = Some(Filter::parse(&text)?);
    }
    Ok(())
}

fn limit_definition(r: &mut Reader) -> Result<Option<String>, ApiError> {
    let Some(definition) = r.object("LimitDefinition", true)? else {
        return Ok(None);
    };
    let mut inner = Reader {
        body: definition,
        path: "limitDefinition.",
        broken: Vec::new(),
    };
    let class = inner.string("LimitClass", true, &ANY)?;
    if let Some(class) = &class
        && class != "API_CATEGORY"
    {
        inner.broken.push(format!(
            "Value '{class}' at 'limitDefinition.limitClass' failed to satisfy constraint: \
             Member must satisfy enum value set: [API_CATEGORY]"
        ));
    }
    let attributes = inner.string_map("Attributes")?;
    r.broken.append(&mut inner.broken);
    Ok(attributes.and_then(|mut a| a.remove("Category")))
}

/// Reads members of one JSON object, collecting broken constraints.
struct Reader<'a> {
    body: &'a Map<String, Value>,
    /// Prefix of member paths in messages, for nested structures.
    path: &'static str,
    broken: Vec<String>,
}

/// How the service's deserializer names a JSON value it did not expect.
fn token_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "VALUE_NULL",
        Value::Bool(true) => "TRUE_VALUE",
        Value::Bool(false) => "FALSE_VALUE",
        Value::Number(_) => "NUMBER_VALUE",
        Value::String(_) => "STRING_VALUE",
        Value::Array(_) => "START_ARRAY",
        Value::Object(_) => "START_OBJECT",
    }
}

fn mismatch(value: &Value, wanted: &str) -> ApiError {
    match value {
        Value::Object(_) => serialization("Start of structure or map found where not expected."),
        Value::Array(_) => serialization("Start of list found where not expected"),
        _ => serialization(format!(
            "{} can not be converted to {wanted}",
            token_name(value)
        )),
    }
}

/// `UserPoolId` → `userPoolId`, as member paths appear in messages.
fn member_path(key: &str) -> String {
    let mut chars = key.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

impl<'a> Reader<'a> {
    /// The member, unless absent or null.
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.body.get(key).filter(|v| !v.is_null())
    }

    fn missing(&mut self, key: &str) {
        let path = format!("{}{}", self.path, member_path(key));
        self.broken.push(format!(
            "Value null at '{path}' failed to satisfy constraint: Member must not be null"
        ));
    }

    fn string(
        &mut self,
        key: &str,
        required: bool,
        rule: &Rule,
    ) -> Result<Option<String>, ApiError> {
        let Some(value) = self.get(key) else {
            if required {
                self.missing(key);
            }
            return Ok(None);
        };
        let Value::String(text) = value else {
            return Err(mismatch(value, "a String"));
        };
        let path = format!("{}{}", self.path, member_path(key));
        let shown = if rule.sensitive {
            "Value".to_owned()
        } else {
            format!("Value '{text}'")
        };
        for constraint in broken(text, rule) {
            self.broken.push(format!(
                "{shown} at '{path}' failed to satisfy constraint: {constraint}"
            ));
        }
        Ok(Some(text.clone()))
    }

    /// `Limit`, where 0 means the default page.
    fn limit(&mut self) -> Result<Option<usize>, ApiError> {
        Ok(self.number("Limit", 0, 60)?.filter(|n| *n > 0))
    }

    /// An integer member within `min..=max`.
    fn number(&mut self, key: &str, min: i64, max: i64) -> Result<Option<usize>, ApiError> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        let Some(n) = value.as_i64() else {
            return match value {
                Value::Number(_) => Err(serialization(format!(
                    "Numeric value ({value}) out of range of int"
                ))),
                _ => Err(mismatch(value, "an Integer")),
            };
        };
        if i32::try_from(n).is_err() {
            return Err(serialization(format!(
                "Numeric value ({n}) out of range of int"
            )));
        }
        let bound = if n < min {
            Some(format!("greater than or equal to {min}"))
        } else if n > max {
            Some(format!("less than or equal to {max}"))
        } else {
            None
        };
        if let Some(bound) = bound {
            let path = format!("{}{}", self.path, member_path(key));
            self.broken.push(format!(
                "Value '{n}' at '{path}' failed to satisfy constraint: Member must have value {bound}"
            ));
            return Ok(None);
        }
        Ok(usize::try_from(n).ok())
    }

    fn object(
        &mut self,
        key: &str,
        required: bool,
    ) -> Result<Option<&'a Map<String, Value>>, ApiError> {
        match self.get(key) {
            None => {
                if required {
                    self.missing(key);
                }
                Ok(None)
            }
            Some(Value::Object(map)) => Ok(Some(map)),
            Some(other) => Err(mismatch(other, "a Structure")),
        }
    }

    fn string_map(
        &mut self,
        key: &str,
    ) -> Result<Option<std::collections::BTreeMap<String, String>>, ApiError> {
        let Some(map) = self.object(key, false)? else {
            return Ok(None);
        };
        let mut out = std::collections::BTreeMap::new();
        for (k, v) in map {
            match v {
                Value::String(s) => {
                    out.insert(k.clone(), s.clone());
                }
                other => return Err(mismatch(other, "a String")),
            }
        }
        Ok(Some(out))
    }

    fn string_list(&mut self, key: &str, rule: &Rule) -> Result<Option<Vec<String>>, ApiError> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        let Value::Array(items) = value else {
            return Err(mismatch(value, "a List"));
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let Value::String(text) = item else {
                return Err(mismatch(item, "a String"));
            };
            let path = format!("{}.{}.member", member_path(key), i + 1);
            for constraint in broken(text, rule) {
                self.broken.push(format!(
                    "Value '{text}' at '{path}' failed to satisfy constraint: {constraint}"
                ));
            }
            out.push(text.clone());
        }
        Ok(Some(out))
    }

    /// The broken constraints so far, as one error.
    fn finish_ref(&mut self) -> Result<(), ApiError> {
        let broken = std::mem::take(&mut self.broken);
        match broken.len() {
            0 => Ok(()),
            1 => Err(invalid(format!(
                "1 validation error detected: {}",
                broken[0]
            ))),
            n => Err(invalid(format!(
                "{n} validation errors detected: {}",
                broken.join("; ")
            ))),
        }
    }

    fn finish(mut self) -> Result<(), ApiError> {
        self.finish_ref()
    }
}
