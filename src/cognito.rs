//! The AWS boundary: the only module that uses the SDK.
//!
//! Builds one client per region from the standard `aws-config` chain with the
//! SDK's own retries off (the SDK counts `LimitExceededException` as a
//! throttle and would retry behind our back, outside our limiter; our retry
//! driver in `retry` is the only retrier, so every attempt passes a limiter)
//! and connect/attempt timeouts set. Turns every SDK result into either a
//! [`Reply`] or a [`CallError`] classified once, here, by [`classify`].
//! Credentials come from [`credentials::Keys`], which can be renewed while a
//! run goes on; idle connections are dropped before a load balancer would
//! drop them ([`IDLE_TIMEOUT`]).

use std::collections::HashMap;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_cognitoidentityprovider as cip;
use cip::config::http::HttpResponse;
use cip::config::{Credentials, Region};
use cip::error::{ProvideErrorMetadata, SdkError};
use cip::operation::RequestId;
use cip::types::{LimitClass, LimitDefinitionType};

use crate::exit::StartError;
use crate::limiter::Category;

mod clients;

pub use clients::{AppClient, ClientPage};
pub mod credentials;

/// How long to wait for a TCP/TLS connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long an idle connection is kept for the next call: below the 20 s or
/// more after which common load balancers and proxies drop one, so that a
/// call is never sent on a connection the other side has just closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(15);

/// The operations the tool calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `AdminResetUserPassword`.
    Reset,
    /// `AdminGetUser`.
    GetUser,
    /// `AdminUserGlobalSignOut`.
    SignOut,
    /// `AdminDisableUser`.
    Disable,
    /// `ListUsers` / `ListUsersInGroup`.
    List,
    /// `DescribeUserPool`.
    DescribePool,
    /// `GetProvisionedLimit`.
    ProvisionedLimit,
    /// `ListUserPoolClients`.
    ListClients,
    /// `DescribeUserPoolClient`.
    DescribeClient,
}

impl Op {
    /// The API's name.
    pub fn name(self) -> &'static str {
        match self {
            Op::Reset => "AdminResetUserPassword",
            Op::GetUser => "AdminGetUser",
            Op::SignOut => "AdminUserGlobalSignOut",
            Op::Disable => "AdminDisableUser",
            Op::List => "ListUsers",
            Op::DescribePool => "DescribeUserPool",
            Op::ProvisionedLimit => "GetProvisionedLimit",
            Op::ListClients => "ListUserPoolClients",
            Op::DescribeClient => "DescribeUserPoolClient",
        }
    }

    /// The quota category the call counts against.
    pub fn category(self) -> Category {
        match self {
            Op::Reset => Category::UserAccountRecovery,
            Op::GetUser => Category::UserRead,
            Op::SignOut | Op::Disable => Category::UserUpdate,
            Op::List => Category::UserList,
            Op::DescribePool | Op::ProvisionedLimit => Category::UserPoolRead,
            Op::ListClients | Op::DescribeClient => Category::UserPoolClientRead,
        }
    }

    /// Whether sending the call twice does no harm. A reset sent twice sends
    /// the user two codes, so a reset whose answer was lost is checked first.
    pub fn idempotent(self) -> bool {
        self != Op::Reset
    }
}

/// What happens after an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// `TooManyRequestsException`: back off, retry, slow the region down.
    Throttled,
    /// Transient: back off and retry.
    Retryable,
    /// This row fails; the run goes on.
    RowFinal,
    /// The pool does not exist: all its rows fail without further calls.
    PoolFatal,
    /// Nothing more can succeed: stop the run.
    RunFatal,
    /// The account's daily limit on codes (email, or SMS) in a region: no
    /// more resets can be sent there today. Everything else (checks,
    /// sign-outs, disables, other regions) goes on; the run then stops as
    /// for a run-fatal error.
    DailyLimit,
    /// The credentials expired, are not (or no longer) valid, or could not
    /// be loaded: the call did nothing, and renewed credentials may pass.
    Credentials,
}

/// Classifies a service error code (with its message and HTTP status).
pub fn classify(code: &str, message: &str, status: u16) -> Class {
    match code {
        "TooManyRequestsException" | "ThrottlingException" | "Throttling" => Class::Throttled,
        // The account's daily email (or SMS) limit: nothing more can be sent today.
        "LimitExceededException" if message.to_ascii_lowercase().contains("daily") => {
            Class::DailyLimit
        }
        // "Attempt limit exceeded": Cognito allows a user only a few reset
        // codes an hour; retrying within the run only burns them.
        "LimitExceededException" => Class::RowFinal,
        "InternalErrorException"
        | "ServiceUnavailable"
        | "InternalFailure"
        | "Timeout"
        | "ConnectionError" => Class::Retryable,
        "ResourceNotFoundException" => Class::PoolFatal,
        "ExpiredTokenException" | "ExpiredToken" | "InvalidClientTokenId" | "CredentialsError" => {
            Class::Credentials
        }
        // "The security token included in the request is invalid/expired":
        // a session that ended, not a policy.
        "UnrecognizedClientException" if mentions_token(message) => Class::Credentials,
        "UnrecognizedClientException"
        | "AccessDeniedException"
        | "InvalidSignatureException"
        | "AccessDenied"
        | "MissingAuthenticationToken"
        | "IncompleteSignature"
        | "InvalidEmailRoleAccessPolicyException" => Class::RunFatal,
        c if c.starts_with("InvalidSmsRole") => Class::RunFatal,
        _ if status >= 500 => Class::Retryable,
        _ => Class::RowFinal,
    }
}

fn mentions_token(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    lower.contains("token") || lower.contains("expired")
}

/// What the operator should do about a run-fatal error.
pub fn fatal_hint(code: &str) -> &'static str {
    match code {
        "LimitExceededException" => {
            "the account's daily email limit is reached: Cognito's default email sender \
             delivers 50 emails a day; configure Amazon SES for the pool, then --resume"
        }
        "InvalidEmailRoleAccessPolicyException" => {
            "Cognito may not send with the pool's SES identity: fix the pool's email \
             configuration (SES identity policy), then --resume"
        }
        c if c.starts_with("InvalidSmsRole") => {
            "Cognito may not publish SMS with the pool's role: fix the role's SNS \
             permission or trust relationship, then --resume"
        }
        "ExpiredTokenException" => "the session credentials expired: renew them, then --resume",
        "JournalError" | "ReportError" => "free disk space or fix permissions, then --resume",
        _ => {
            "the credentials in use were refused: check the profile or keys, and that the IAM \
             policy allows the operation named above (the README lists what each option needs), \
             then --resume"
        }
    }
}

/// The message a row gets when Cognito refuses a reset because the user asked
/// for too many codes recently.
pub const ATTEMPT_LIMIT_HINT: &str = "Cognito allows a user only a few reset codes an hour; try this row again after an hour with --resume";

/// A failed call, classified.
#[derive(Debug, Clone, PartialEq)]
pub struct CallError {
    /// What to do next.
    pub class: Class,
    /// Service code (`UserNotFoundException`) or local one (`Timeout`, `ConnectionError`).
    pub code: String,
    /// The service's message, or a description of the local failure.
    pub message: String,
    /// The service's request id, if a response arrived.
    pub request_id: String,
}

impl CallError {
    /// Whether the call may have taken effect even though no success came
    /// back (timeouts, dropped connections, 5xx), so that a reset must be
    /// checked before it is repeated.
    pub fn may_have_applied(&self) -> bool {
        self.class == Class::Retryable
    }

    /// Why a reset was refused, when the answer is a refusal of the user.
    pub fn refusal(&self) -> Option<Refusal> {
        if self.class != Class::RowFinal {
            return None;
        }
        let lower = || self.message.to_ascii_lowercase();
        match self.code.as_str() {
            "InvalidParameterException" => {
                let m = lower();
                (m.contains("verified") || m.contains("registered"))
                    .then_some(Refusal::NoVerifiedContact)
            }
            "NotAuthorizedException" if lower().contains("disabled") => Some(Refusal::Disabled),
            "NotAuthorizedException" => Some(Refusal::State),
            _ => None,
        }
    }

    /// `UserNotFoundException`.
    pub fn user_not_found(&self) -> bool {
        self.code == "UserNotFoundException"
    }

    /// `LimitExceededException` "Attempt limit exceeded": the user asked for
    /// too many codes lately (the daily email limit is [`Class::DailyLimit`]).
    pub fn attempt_limit(&self) -> bool {
        self.class == Class::RowFinal && self.code == "LimitExceededException"
    }

    /// No answer came within the attempt timeout: unlike a 5xx or a closed
    /// connection, the request may still be on its way.
    pub fn timed_out(&self) -> bool {
        self.code == "Timeout"
    }

    /// An error made here, not by the service.
    pub fn local(class: Class, code: &str, message: String) -> CallError {
        CallError {
            class,
            code: code.into(),
            message,
            request_id: String::new(),
        }
    }
}

/// Classifies a failed call. Whatever the SDK calls it, credentials that
/// could not be loaded are [`Class::Credentials`], and every failure to
/// reach the service — refused or reset connections, DNS, TLS, a connection
/// closed mid-answer — is retryable: the next attempt, or the region's
/// pause, finds out whether it passes.
fn call_error<E>(err: SdkError<E, HttpResponse>) -> CallError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let request_id = err.request_id().unwrap_or_default().to_owned();
    if let Some(e) = credentials::credentials_error(&err) {
        return CallError::local(
            Class::Credentials,
            "CredentialsError",
            format!(
                "the credentials could not be loaded: {}",
                credentials::one_line(e)
            ),
        );
    }
    match &err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            let code = e.code().unwrap_or("UnknownError").to_owned();
            let message = e.message().unwrap_or_default().to_owned();
            let status = service.raw().status().as_u16();
            CallError {
                class: classify(&code, &message, status),
                code,
                message,
                request_id,
            }
        }
        SdkError::TimeoutError(_) => CallError::local(
            Class::Retryable,
            "Timeout",
            "no answer within the attempt timeout".into(),
        ),
        SdkError::DispatchFailure(d) if d.is_timeout() => CallError::local(
            Class::Retryable,
            "Timeout",
            "no connection within the connect timeout".into(),
        ),
        SdkError::ResponseError(_) => CallError::local(
            Class::Retryable,
            "ConnectionError",
            "the connection closed before a complete answer".into(),
        ),
        _ => CallError::local(
            Class::Retryable,
            "ConnectionError",
            credentials::one_line(&err),
        ),
    }
}

/// Why a reset cannot reach a user who would then keep a working password.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Unreachable {
    /// No verified email or phone number to send the code to.
    NoVerifiedContact,
    /// A status in which Cognito refuses a reset (`FORCE_CHANGE_PASSWORD`, …).
    Status(String),
}

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unreachable::NoVerifiedContact => write!(f, "no verified email or phone"),
            Unreachable::Status(s) => write!(f, "status {s}"),
        }
    }
}

/// What a reset would do to a user in a given state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The reset succeeds.
    Resettable,
    /// The user is disabled: already locked out, the reset is refused.
    Disabled,
    /// A federated user (`EXTERNAL_PROVIDER`): no password in Cognito.
    Federated,
    /// The reset is refused and the user keeps a working password.
    Unreachable(Unreachable),
}

/// A user's state as far as a reset is concerned.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UserState {
    /// `CONFIRMED`, `RESET_REQUIRED`, `FORCE_CHANGE_PASSWORD`, …
    pub status: String,
    /// Whether the user is enabled.
    pub enabled: bool,
    /// Whether the user has a verified email address.
    pub email_verified: bool,
    /// Whether the user has a verified phone number.
    pub phone_verified: bool,
}

/// The status of a federated user.
pub const EXTERNAL_PROVIDER: &str = "EXTERNAL_PROVIDER";
/// The status after a reset.
pub const RESET_REQUIRED: &str = "RESET_REQUIRED";

impl UserState {
    /// What a reset of this user would do (Cognito's rules).
    pub fn verdict(&self) -> Verdict {
        if !self.enabled {
            Verdict::Disabled
        } else if self.status == EXTERNAL_PROVIDER {
            Verdict::Federated
        } else if self.status != "CONFIRMED" && self.status != RESET_REQUIRED {
            Verdict::Unreachable(Unreachable::Status(self.status.clone()))
        } else if !self.email_verified && !self.phone_verified && self.status != RESET_REQUIRED {
            Verdict::Unreachable(Unreachable::NoVerifiedContact)
        } else {
            Verdict::Resettable
        }
    }

    /// What a reset would do if the user were enabled: why a user someone
    /// disabled could not be reached.
    pub fn verdict_if_enabled(&self) -> Verdict {
        UserState {
            enabled: true,
            ..self.clone()
        }
        .verdict()
    }

    /// The error a reset of this user would meet, or `None` if it would
    /// succeed: what a dry run predicts.
    pub fn predicted_error(&self) -> Option<(&'static str, &'static str)> {
        match self.verdict() {
            Verdict::Resettable => None,
            Verdict::Disabled => Some(("NotAuthorizedException", "User is disabled.")),
            Verdict::Federated | Verdict::Unreachable(Unreachable::Status(_)) => Some((
                "NotAuthorizedException",
                "User password cannot be reset in the current state.",
            )),
            Verdict::Unreachable(Unreachable::NoVerifiedContact) => Some((
                "InvalidParameterException",
                "Cannot reset password for the user as there is no registered/verified email or phone_number",
            )),
        }
    }

    fn from_parts(
        status: Option<&str>,
        enabled: bool,
        attributes: &[cip::types::AttributeType],
    ) -> UserState {
        let verified = |name: &str| {
            attributes
                .iter()
                .any(|a| a.name() == name && a.value() == Some("true"))
        };
        UserState {
            status: status.unwrap_or_default().to_owned(),
            enabled,
            email_verified: verified("email_verified"),
            phone_verified: verified("phone_number_verified"),
        }
    }
}

/// Whether a reset refusal may mean the user cannot be reached (as opposed to
/// "User is disabled", which means the user is already locked out).
pub fn may_be_unreachable(error: &CallError) -> bool {
    matches!(
        error.refusal(),
        Some(Refusal::NoVerifiedContact | Refusal::State)
    )
}

/// Why Cognito refused to reset a user, as far as its answer tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `InvalidParameterException`: no registered or verified email or phone.
    NoVerifiedContact,
    /// `NotAuthorizedException`: a status in which a reset is refused
    /// (`FORCE_CHANGE_PASSWORD`, federated, ...).
    State,
    /// `NotAuthorizedException` "User is disabled": already locked out.
    Disabled,
}

/// The two codes with which Cognito refuses to reset an unreachable user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalCode {
    /// No verified email or phone.
    InvalidParameter,
    /// A status that cannot be reset.
    NotAuthorized,
}

impl RefusalCode {
    /// The service's code.
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalCode::InvalidParameter => "InvalidParameterException",
            RefusalCode::NotAuthorized => "NotAuthorizedException",
        }
    }

    /// From the service's code.
    pub fn parse(code: &str) -> RefusalCode {
        if code == "InvalidParameterException" {
            RefusalCode::InvalidParameter
        } else {
            RefusalCode::NotAuthorized
        }
    }
}

/// Codes of failures that a later resume may get past: the service was
/// throttling, unreachable or refusing the credentials, the user asked for
/// too many codes lately, or the state could not be checked.
pub fn may_pass_later(code: &str) -> bool {
    matches!(
        code,
        "AccessDeniedException"
            | "UnrecognizedClientException"
            | "ExpiredTokenException"
            | "InvalidSignatureException"
            | "CredentialsError"
            | "JournalError"
            | "ReportError"
            | "TooManyRequestsException"
            | "LimitExceededException"
            | "InternalErrorException"
            | "Timeout"
            | "ConnectionError"
            | "StateUnknown"
            | "ServiceUnavailable"
            | "InternalFailure"
    )
}

/// Codes that mean there is no such user (or pool): nobody holds a password.
pub fn means_no_user(code: &str) -> bool {
    matches!(code, "UserNotFoundException" | "ResourceNotFoundException")
}

/// What the preflight needs of a pool, from DescribeUserPool.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PoolInfo {
    /// `EmailConfiguration.EmailSendingAccount`; `None` when absent, which
    /// Cognito treats as `COGNITO_DEFAULT`.
    pub email_sending_account: Option<String>,
    /// `AccountRecoverySetting.RecoveryMechanisms` names, by priority.
    pub recovery: Vec<String>,
    /// `UsernameConfiguration.CaseSensitive`; `None` when absent (pools made
    /// before the setting existed are case-sensitive).
    pub case_sensitive: Option<bool>,
}

/// How to reach AWS (or the simulator).
#[derive(Debug, Clone, Default)]
pub struct Connection {
    /// `--profile`.
    pub profile: Option<String>,
    /// `--endpoint-url`, or the simulator's address.
    pub endpoint_url: Option<String>,
    /// Use fixed dummy credentials (the simulator checks none).
    pub dummy_credentials: bool,
    /// Per-attempt timeout.
    pub attempt_timeout: Duration,
}

/// Shared SDK configuration from which per-region clients are made.
#[derive(Clone)]
pub struct Aws {
    base: aws_config::SdkConfig,
    keys: std::sync::Arc<credentials::Keys>,
}

impl Aws {
    /// Loads the standard chain (only `--profile`'s profile when one is
    /// named) and checks that credentials can be had, within
    /// [`credentials::LOAD_TIMEOUT`].
    pub async fn load(connection: &Connection) -> Result<Aws, StartError> {
        if let Some((named_by, profile)) = credentials::named_profile(connection.profile.as_deref())
            .filter(|_| !connection.dummy_credentials)
        {
            credentials::check_profile(named_by, &profile)
                .await
                .map_err(StartError::Aws)?;
        }
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .operation_attempt_timeout(connection.attempt_timeout)
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(RetryConfig::disabled())
            .timeout_config(timeouts)
            .http_client(http_client())
            .no_credentials();
        if let Some(profile) = &connection.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(url) = &connection.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let loaded = loader.load().await;
        let source = if connection.dummy_credentials {
            let fixed = Credentials::new("SIMULATED", "SIMULATED", None, None, "simulator");
            credentials::Source::Fixed(fixed)
        } else {
            credentials::Source::Chain {
                profile: connection.profile.clone(),
                region: loaded.region().cloned(),
            }
        };
        let keys = credentials::Keys::new(source).await;
        if let Err(why) = keys.load().await {
            let advice = match &connection.profile {
                Some(profile) => format!(
                    "check the profile {} (its keys, role, SSO login or credential_process)",
                    crate::progress::escape(profile)
                ),
                None => "set AWS_PROFILE or --profile, environment keys, or log in with SSO".into(),
            };
            return Err(StartError::Aws(format!(
                "no AWS credentials: {why} ({advice}); nothing was sent"
            )));
        }
        let base = loaded
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(credentials::Renewable(
                keys.clone(),
            )))
            .identity_cache(credentials::cache())
            .build();
        Ok(Aws { base, keys })
    }

    /// Reads the credentials afresh from the chain (profiles, SSO caches,
    /// role credentials): what renews them after an `aws sso login`.
    pub async fn renew_credentials(&self) -> Result<(), String> {
        self.keys.renew().await
    }

    /// Whether the credentials in use came from environment variables,
    /// which a running process cannot see renewed.
    pub fn credentials_from_environment(&self) -> bool {
        self.keys.from_environment()
    }

    /// A client for one region.
    pub fn client(&self, region: &str) -> Cognito {
        let config = cip::config::Builder::from(&self.base)
            .region(Region::new(region.to_owned()))
            .build();
        Cognito {
            client: cip::Client::from_conf(config),
        }
    }

    /// Who the credentials belong to (`sts:GetCallerIdentity`), for the
    /// audit record.
    pub async fn caller_identity(&self, region: &str) -> Result<Identity, CallError> {
        let config = aws_sdk_sts::config::Builder::from(&self.base)
            .region(aws_sdk_sts::config::Region::new(region.to_owned()))
            .build();
        let out = aws_sdk_sts::Client::from_conf(config)
            .get_caller_identity()
            .send()
            .await
            .map_err(call_error)?;
        Ok(Identity {
            account: out.account().unwrap_or_default().to_owned(),
            arn: out.arn().unwrap_or_default().to_owned(),
            user_id: out.user_id().unwrap_or_default().to_owned(),
        })
    }
}

/// The caller's identity, from `sts:GetCallerIdentity`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Identity {
    /// The AWS account.
    pub account: String,
    /// The caller's ARN.
    pub arn: String,
    /// The caller's unique id.
    pub user_id: String,
}

/// The HTTP client: the SDK's default (rustls, proxies from the
/// environment), with idle connections dropped after [`IDLE_TIMEOUT`].
fn http_client() -> cip::config::SharedHttpClient {
    use aws_smithy_http_client::{Builder, ConnectorBuilder, proxy::ProxyConfig, tls};
    Builder::new().build_with_connector_fn(|settings, components| {
        let mut connector = ConnectorBuilder::default()
            .pool_idle_timeout(IDLE_TIMEOUT)
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::AwsLc,
            ));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

/// Cognito in one region.
#[derive(Clone, Debug)]
pub struct Cognito {
    client: cip::Client,
}

/// A successful call: its value and the service's request id (audit).
#[derive(Debug, Clone, PartialEq)]
pub struct Reply<T> {
    /// What the call returned.
    pub value: T,
    /// The service's request id.
    pub request_id: String,
}

/// The result of one call.
pub type CallResult<T> = Result<Reply<T>, CallError>;

fn reply<T>(value: T, request_id: Option<&str>) -> Reply<T> {
    Reply {
        value,
        request_id: request_id.unwrap_or_default().to_owned(),
    }
}

/// A user as a listing shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedUser {
    /// The username.
    pub username: String,
    /// Its state, as the listing says.
    pub state: UserState,
}

/// A page of users from ListUsers / ListUsersInGroup.
#[derive(Debug, Default)]
pub struct UserPage {
    /// Users, in listing order.
    pub users: Vec<ListedUser>,
    /// Token for the next page, if any.
    pub next: Option<String>,
}

/// Which users a listing returns.
#[derive(Debug, Clone, PartialEq)]
pub enum Listing {
    /// ListUsers with an optional filter.
    Pool {
        /// ListUsers' filter.
        filter: Option<String>,
    },
    /// ListUsersInGroup.
    Group(String),
}

impl Cognito {
    /// AdminResetUserPassword.
    pub async fn reset(
        &self,
        pool: &str,
        username: &str,
        metadata: &[(String, String)],
    ) -> CallResult<()> {
        let metadata: HashMap<String, String> = metadata.iter().cloned().collect();
        let out = self
            .client
            .admin_reset_user_password()
            .user_pool_id(pool)
            .username(username)
            .set_client_metadata((!metadata.is_empty()).then_some(metadata))
            .send()
            .await
            .map_err(call_error)?;
        Ok(reply((), out.request_id()))
    }

    /// AdminGetUser: the user's state.
    pub async fn get_user(&self, pool: &str, username: &str) -> CallResult<UserState> {
        let out = self
            .client
            .admin_get_user()
            .user_pool_id(pool)
            .username(username)
            .send()
            .await
            .map_err(call_error)?;
        let state = UserState::from_parts(
            out.user_status().map(|s| s.as_str()),
            out.enabled(),
            out.user_attributes(),
        );
        Ok(reply(state, out.request_id()))
    }

    /// AdminUserGlobalSignOut.
    pub async fn global_sign_out(&self, pool: &str, username: &str) -> CallResult<()> {
        let out = self
            .client
            .admin_user_global_sign_out()
            .user_pool_id(pool)
            .username(username)
            .send()
            .await
            .map_err(call_error)?;
        Ok(reply((), out.request_id()))
    }

    /// AdminDisableUser.
    pub async fn disable_user(&self, pool: &str, username: &str) -> CallResult<()> {
        let out = self
            .client
            .admin_disable_user()
            .user_pool_id(pool)
            .username(username)
            .send()
            .await
            .map_err(call_error)?;
        Ok(reply((), out.request_id()))
    }

    /// DescribeUserPool, reduced to what the preflight needs.
    pub async fn describe_pool(&self, pool: &str) -> CallResult<PoolInfo> {
        self.describe_pool_within(pool, None).await
    }

    /// DescribeUserPool with its own attempt timeout (the run's first call,
    /// which must tell quickly that an endpoint does not answer).
    pub async fn describe_pool_within(
        &self,
        pool: &str,
        timeout: Option<Duration>,
    ) -> CallResult<PoolInfo> {
        let mut call = self
            .client
            .describe_user_pool()
            .user_pool_id(pool)
            .customize();
        if let Some(timeout) = timeout {
            let timeouts = TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT.min(timeout))
                .operation_attempt_timeout(timeout)
                .build();
            call = call.config_override(cip::config::Builder::default().timeout_config(timeouts));
        }
        let out = call.send().await.map_err(call_error)?;
        let p = out.user_pool();
        let mut mechanisms: Vec<(i32, String)> = p
            .and_then(|p| p.account_recovery_setting())
            .map(|s| {
                s.recovery_mechanisms()
                    .iter()
                    .map(|m| (m.priority(), m.name().as_str().to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        mechanisms.sort();
        let info = PoolInfo {
            email_sending_account: p
                .and_then(|p| p.email_configuration())
                .and_then(|e| e.email_sending_account())
                .map(|a| a.as_str().to_owned()),
            recovery: mechanisms.into_iter().map(|(_, name)| name).collect(),
            case_sensitive: p
                .and_then(|p| p.username_configuration())
                .map(|u| u.case_sensitive()),
        };
        Ok(reply(info, out.request_id()))
    }

    /// The provisioned rate of a quota category (GetProvisionedLimit).
    pub async fn provisioned_limit(&self, category: &str) -> CallResult<f64> {
        let definition = LimitDefinitionType::builder()
            .limit_class(LimitClass::ApiCategory)
            .attributes("Category", category)
            .build()
            .map_err(|e| CallError::local(Class::RowFinal, "RequestError", e.to_string()))?;
        let out = self
            .client
            .get_provisioned_limit()
            .limit_definition(definition)
            .send()
            .await
            .map_err(call_error)?;
        let value = out
            .limit()
            .map(|l| f64::from(l.provisioned_limit_value()))
            .filter(|v| *v > 0.0)
            .ok_or_else(|| {
                CallError::local(
                    Class::RowFinal,
                    "NoLimit",
                    "the answer holds no ProvisionedLimitValue for the category".into(),
                )
            })?;
        Ok(reply(value, out.request_id()))
    }

    /// One page of ListUsers (with an optional filter) or ListUsersInGroup.
    pub async fn list_users(
        &self,
        pool: &str,
        listing: &Listing,
        token: Option<String>,
    ) -> CallResult<UserPage> {
        match listing {
            Listing::Group(group) => {
                let out = self
                    .client
                    .list_users_in_group()
                    .user_pool_id(pool)
                    .group_name(group)
                    .set_next_token(token)
                    .send()
                    .await
                    .map_err(call_error)?;
                let page = UserPage {
                    users: listed(out.users()),
                    next: out.next_token().map(str::to_owned),
                };
                Ok(reply(page, out.request_id()))
            }
            Listing::Pool { filter } => {
                let out = self
                    .client
                    .list_users()
                    .user_pool_id(pool)
                    .set_filter(filter.clone())
                    .set_pagination_token(token)
                    .send()
                    .await
                    .map_err(call_error)?;
                let page = UserPage {
                    users: listed(out.users()),
                    next: out.pagination_token().map(str::to_owned),
                };
                Ok(reply(page, out.request_id()))
            }
        }
    }
}

fn listed(users: &[cip::types::UserType]) -> Vec<ListedUser> {
    users
        .iter()
        .filter_map(|u| {
            Some(ListedUser {
                username: u.username()?.to_owned(),
                state: UserState::from_parts(
                    u.user_status().map(|s| s.as_str()),
                    u.enabled(),
                    u.attributes(),
                ),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_code_has_its_class() {
        use Class::*;
        let cases = [
            ("TooManyRequestsException", "", 400, Throttled),
            (
                "LimitExceededException",
                "Attempt limit exceeded, please try after some time.",
                400,
                RowFinal,
            ),
            (
                "LimitExceededException",
                "Exceeded daily email limit for the operation or the account.",
                400,
                DailyLimit,
            ),
            ("InternalErrorException", "", 500, Retryable),
            ("Timeout", "", 0, Retryable),
            ("ConnectionError", "", 0, Retryable),
            ("SomethingNew", "", 503, Retryable),
            ("UserNotFoundException", "", 400, RowFinal),
            ("InvalidParameterException", "", 400, RowFinal),
            ("NotAuthorizedException", "User is disabled.", 400, RowFinal),
            ("UserLambdaValidationException", "", 400, RowFinal),
            ("InvalidLambdaResponseException", "", 400, RowFinal),
            ("UnexpectedLambdaException", "", 400, RowFinal),
            ("SomethingElse", "", 400, RowFinal),
            ("ResourceNotFoundException", "", 400, PoolFatal),
            ("UnrecognizedClientException", "", 400, RunFatal),
            ("AccessDeniedException", "", 400, RunFatal),
            ("InvalidSignatureException", "", 400, RunFatal),
            ("ExpiredTokenException", "", 400, Credentials),
            ("ExpiredToken", "", 403, Credentials),
            ("InvalidClientTokenId", "", 403, Credentials),
            (
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
                400,
                Credentials,
            ),
            (
                "UnrecognizedClientException",
                "The security token included in the request is expired",
                400,
                Credentials,
            ),
            ("InvalidEmailRoleAccessPolicyException", "", 400, RunFatal),
            ("InvalidSmsRoleAccessPolicyException", "", 400, RunFatal),
            (
                "InvalidSmsRoleTrustRelationshipException",
                "",
                400,
                RunFatal,
            ),
        ];
        for (code, message, status, class) in cases {
            assert_eq!(classify(code, message, status), class, "{code} {message}");
        }
    }

    type ResetError = cip::operation::admin_reset_user_password::AdminResetUserPasswordError;

    fn dispatch(e: cip::error::ConnectorError) -> CallError {
        call_error::<ResetError>(SdkError::dispatch_failure(e))
    }

    #[test]
    fn connect_and_dns_failures_are_retryable_whatever_the_sdk_calls_them() {
        use cip::error::ConnectorError;
        let io = || std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let dns = || std::io::Error::other("dns error: failed to lookup address information");
        let cases = [
            ConnectorError::io(io().into()),
            ConnectorError::other(dns().into(), None),
            ConnectorError::user(dns().into()),
        ];
        for e in cases {
            let e = dispatch(e);
            assert_eq!(
                (e.class, e.code.as_str()),
                (Class::Retryable, "ConnectionError"),
                "{e:?}"
            );
            assert!(!e.message.contains('\n'), "{e:?}");
        }
        let timeout = dispatch(ConnectorError::timeout(io().into()));
        assert_eq!(
            (timeout.class, timeout.code.as_str()),
            (Class::Retryable, "Timeout")
        );
        let lost = call_error::<ResetError>(SdkError::timeout_error(io()));
        assert!(lost.timed_out() && lost.may_have_applied());
    }

    /// Regression: credentials that could not be loaded were recognised by
    /// the word "credential" in a debug dump of the whole request, and
    /// stopped the run at once.
    #[test]
    fn credentials_that_cannot_load_are_a_pause_in_one_line() {
        use aws_credential_types::provider::error::CredentialsError;
        let source = CredentialsError::provider_error(std::io::Error::other(
            "the SSO session has expired\nrun aws sso login",
        ));
        let e = dispatch(cip::error::ConnectorError::other(source.into(), None));
        assert_eq!(
            (e.class, e.code.as_str()),
            (Class::Credentials, "CredentialsError")
        );
        assert!(!e.message.contains('\n'), "{}", e.message);
        assert!(
            e.message.contains("SSO session has expired"),
            "{}",
            e.message
        );
        assert!(!e.may_have_applied());
    }

    #[test]
    fn only_ambiguous_failures_need_a_check_before_retry() {
        let e = |code: &str| CallError {
            class: classify(code, "", 400),
            code: code.into(),
            message: String::new(),
            request_id: String::new(),
        };
        assert!(e("Timeout").may_have_applied());
        assert!(e("InternalErrorException").may_have_applied());
        assert!(!e("LimitExceededException").may_have_applied());
        assert!(!e("AccessDeniedException").may_have_applied());
        assert!(!e("TooManyRequestsException").may_have_applied());
        assert!(!e("UserNotFoundException").may_have_applied());
    }

    #[test]
    fn prediction_follows_cognito_state_rules() {
        let s = |status: &str, enabled, verified| UserState {
            status: status.into(),
            enabled,
            email_verified: verified,
            phone_verified: false,
        };
        assert_eq!(s("CONFIRMED", true, true).predicted_error(), None);
        assert_eq!(s("RESET_REQUIRED", true, false).predicted_error(), None);
        assert_eq!(s("CONFIRMED", false, true).verdict(), Verdict::Disabled);
        assert_eq!(
            s("EXTERNAL_PROVIDER", true, true).verdict(),
            Verdict::Federated
        );
        assert_eq!(
            s("FORCE_CHANGE_PASSWORD", true, true).verdict(),
            Verdict::Unreachable(Unreachable::Status("FORCE_CHANGE_PASSWORD".into()))
        );
        assert_eq!(
            s("UNCONFIRMED", true, true).predicted_error().unwrap().0,
            "NotAuthorizedException"
        );
        assert_eq!(
            s("CONFIRMED", true, false).predicted_error().unwrap().0,
            "InvalidParameterException"
        );
        let phone = UserState {
            phone_verified: true,
            ..s("CONFIRMED", true, false)
        };
        assert_eq!(phone.verdict(), Verdict::Resettable);
    }

    #[test]
    fn a_disabled_refusal_is_not_an_unreachable_user() {
        let e = |code: &str, message: &str| CallError {
            class: Class::RowFinal,
            code: code.into(),
            message: message.into(),
            request_id: String::new(),
        };
        assert!(!may_be_unreachable(&e(
            "NotAuthorizedException",
            "User is disabled."
        )));
        assert!(may_be_unreachable(&e(
            "NotAuthorizedException",
            "User password cannot be reset in the current state."
        )));
        assert!(may_be_unreachable(&e(
            "InvalidParameterException",
            "Cannot reset password for the user as there is no registered/verified email or phone_number"
        )));
        assert!(!may_be_unreachable(&e(
            "UserNotFoundException",
            "User does not exist."
        )));
    }
}
