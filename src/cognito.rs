//! The AWS boundary: the only module that uses the SDK.
//!
//! Builds one client per region from the standard `aws-config` chain with the
//! SDK's own retries off (our worker loop is the only retrier, so every
//! attempt passes our limiter) and connect/attempt timeouts set. Turns every
//! SDK result into either a value or a [`CallError`] classified once, here,
//! by [`classify`] (SPEC §4).

use std::collections::HashMap;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_cognitoidentityprovider as cip;
use cip::config::http::HttpResponse;
use cip::config::{Credentials, ProvideCredentials, Region};
use cip::error::{ProvideErrorMetadata, SdkError};
use cip::operation::RequestId;
use cip::types::{LimitClass, LimitDefinitionType};

use crate::exit::StartError;

/// Cognito's rate-limit category for AdminResetUserPassword.
pub const RECOVERY_CATEGORY: &str = "UserAccountRecovery";
/// How long to wait for a TCP/TLS connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// What happens after an error (SPEC §4).
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
}

/// Classifies a service error code (with its message and HTTP status).
pub fn classify(code: &str, message: &str, status: u16) -> Class {
    match code {
        "TooManyRequestsException" | "ThrottlingException" => Class::Throttled,
        "LimitExceededException" if message.to_ascii_lowercase().contains("daily email") => {
            Class::RunFatal
        }
        "LimitExceededException"
        | "InternalErrorException"
        | "ServiceUnavailable"
        | "InternalFailure"
        | "Timeout"
        | "ConnectionError" => Class::Retryable,
        "ResourceNotFoundException" => Class::PoolFatal,
        "UnrecognizedClientException"
        | "AccessDeniedException"
        | "InvalidSignatureException"
        | "ExpiredTokenException"
        | "InvalidClientTokenId"
        | "MissingAuthenticationToken"
        | "IncompleteSignature"
        | "CredentialsError"
        | "InvalidEmailRoleAccessPolicyException" => Class::RunFatal,
        c if c.starts_with("InvalidSmsRole") => Class::RunFatal,
        _ if status >= 500 => Class::Retryable,
        _ => Class::RowFinal,
    }
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
            "the credentials in use were refused: check the profile/keys and that the IAM \
             policy allows cognito-idp:AdminResetUserPassword (see README), then --resume"
        }
    }
}

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
        self.class == Class::Retryable && self.code != "LimitExceededException"
    }

    fn local(class: Class, code: &str, message: String) -> CallError {
        CallError {
            class,
            code: code.into(),
            message,
            request_id: String::new(),
        }
    }
}

fn call_error<E>(err: SdkError<E, HttpResponse>) -> CallError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let request_id = err.request_id().unwrap_or_default().to_owned();
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
            "no response within the attempt timeout".into(),
        ),
        SdkError::DispatchFailure(d) if d.is_timeout() => {
            CallError::local(Class::Retryable, "Timeout", "connection timed out".into())
        }
        SdkError::DispatchFailure(d) if d.is_io() => CallError::local(
            Class::Retryable,
            "ConnectionError",
            format!("{}", cip::error::DisplayErrorContext(&err)),
        ),
        SdkError::DispatchFailure(_) | SdkError::ConstructionFailure(_) => {
            let text = format!("{}", cip::error::DisplayErrorContext(&err));
            if text.to_ascii_lowercase().contains("credential") {
                CallError::local(Class::RunFatal, "CredentialsError", text)
            } else {
                CallError::local(Class::Retryable, "ConnectionError", text)
            }
        }
        SdkError::ResponseError(_) => CallError::local(
            Class::Retryable,
            "ConnectionError",
            "the connection closed before a complete response".into(),
        ),
        _ => CallError::local(
            Class::Retryable,
            "ConnectionError",
            format!("{}", cip::error::DisplayErrorContext(&err)),
        ),
    }
}

/// A user's state as far as a reset is concerned.
#[derive(Debug, Clone, PartialEq)]
pub struct UserState {
    /// `CONFIRMED`, `RESET_REQUIRED`, `UNCONFIRMED`, …
    pub status: String,
    /// Whether the user is enabled.
    pub enabled: bool,
    /// Whether the user has a verified email or phone number.
    pub verified_contact: bool,
}

impl UserState {
    /// The error a reset of this user would meet (the same rules Cognito
    /// applies), or `None` if it would succeed.
    pub fn predicted_error(&self) -> Option<(&'static str, &'static str)> {
        if !self.enabled {
            Some(("NotAuthorizedException", "User is disabled."))
        } else if self.status != "CONFIRMED" && self.status != "RESET_REQUIRED" {
            Some((
                "NotAuthorizedException",
                "User password cannot be reset in the current state.",
            ))
        } else if !self.verified_contact && self.status != "RESET_REQUIRED" {
            Some((
                "InvalidParameterException",
                "Cannot reset password for the user as there is no registered/verified email or phone_number",
            ))
        } else {
            None
        }
    }
}

/// How a pool sends email, from DescribeUserPool.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolInfo {
    /// `EmailConfiguration.EmailSendingAccount`: `COGNITO_DEFAULT` or `DEVELOPER`.
    pub email_sending_account: Option<String>,
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
}

impl Aws {
    /// Loads the standard chain and checks that credentials can be had.
    pub async fn load(connection: &Connection) -> Result<Aws, StartError> {
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .operation_attempt_timeout(connection.attempt_timeout)
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(RetryConfig::disabled())
            .timeout_config(timeouts);
        if let Some(profile) = &connection.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(url) = &connection.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if connection.dummy_credentials {
            loader = loader.credentials_provider(Credentials::new(
                "SIMULATED",
                "SIMULATED",
                None,
                None,
                "simulator",
            ));
        }
        let base = loader.load().await;
        let provider = base
            .credentials_provider()
            .ok_or_else(|| StartError::Aws("no AWS credentials provider is configured".into()))?;
        if let Err(e) = provider.provide_credentials().await {
            return Err(StartError::Aws(format!(
                "no AWS credentials: {} (set AWS_PROFILE / --profile, environment keys, or SSO login)",
                cip::error::DisplayErrorContext(&e)
            )));
        }
        Ok(Aws { base })
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
}

/// Cognito in one region.
#[derive(Clone, Debug)]
pub struct Cognito {
    client: cip::Client,
}

/// A page of users from ListUsers / ListUsersInGroup.
#[derive(Debug, Default)]
pub struct UserPage {
    /// Usernames, in listing order.
    pub usernames: Vec<String>,
    /// Token for the next page, if any.
    pub next: Option<String>,
}

impl Cognito {
    /// AdminResetUserPassword; returns the request id.
    pub async fn reset(
        &self,
        pool: &str,
        username: &str,
        metadata: &[(String, String)],
    ) -> Result<String, CallError> {
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
        Ok(out.request_id().unwrap_or_default().to_owned())
    }

    /// AdminGetUser; returns the user's state and the request id.
    pub async fn get_user(
        &self,
        pool: &str,
        username: &str,
    ) -> Result<(UserState, String), CallError> {
        let out = self
            .client
            .admin_get_user()
            .user_pool_id(pool)
            .username(username)
            .send()
            .await
            .map_err(call_error)?;
        let verified = |name: &str| {
            out.user_attributes()
                .iter()
                .any(|a| a.name() == name && a.value() == Some("true"))
        };
        let state = UserState {
            status: out
                .user_status()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            enabled: out.enabled(),
            verified_contact: verified("email_verified") || verified("phone_number_verified"),
        };
        Ok((state, out.request_id().unwrap_or_default().to_owned()))
    }

    /// AdminUserGlobalSignOut; returns the request id.
    pub async fn global_sign_out(&self, pool: &str, username: &str) -> Result<String, CallError> {
        let out = self
            .client
            .admin_user_global_sign_out()
            .user_pool_id(pool)
            .username(username)
            .send()
            .await
            .map_err(call_error)?;
        Ok(out.request_id().unwrap_or_default().to_owned())
    }

    /// DescribeUserPool, reduced to what the plan needs.
    pub async fn describe_pool(&self, pool: &str) -> Result<PoolInfo, CallError> {
        let out = self
            .client
            .describe_user_pool()
            .user_pool_id(pool)
            .send()
            .await
            .map_err(call_error)?;
        Ok(PoolInfo {
            email_sending_account: out
                .user_pool()
                .and_then(|p| p.email_configuration())
                .and_then(|e| e.email_sending_account())
                .map(|a| a.as_str().to_owned()),
        })
    }

    /// The enforced UserAccountRecovery rate (GetProvisionedLimit).
    pub async fn recovery_rate_limit(&self) -> Result<f64, CallError> {
        let definition = LimitDefinitionType::builder()
            .limit_class(LimitClass::ApiCategory)
            .attributes("Category", RECOVERY_CATEGORY)
            .build()
            .map_err(|e| CallError::local(Class::RowFinal, "RequestError", e.to_string()))?;
        let out = self
            .client
            .get_provisioned_limit()
            .limit_definition(definition)
            .send()
            .await
            .map_err(call_error)?;
        out.limit()
            .map(|l| f64::from(l.provisioned_limit_value()))
            .filter(|v| *v > 0.0)
            .ok_or_else(|| {
                CallError::local(
                    Class::RowFinal,
                    "NoLimit",
                    "the answer holds no ProvisionedLimitValue".into(),
                )
            })
    }

    /// One page of ListUsers (with an optional filter) or ListUsersInGroup.
    pub async fn list_users(
        &self,
        pool: &str,
        group: Option<&str>,
        filter: Option<&str>,
        token: Option<String>,
    ) -> Result<UserPage, CallError> {
        if let Some(group) = group {
            let out = self
                .client
                .list_users_in_group()
                .user_pool_id(pool)
                .group_name(group)
                .set_next_token(token)
                .send()
                .await
                .map_err(call_error)?;
            return Ok(UserPage {
                usernames: out
                    .users()
                    .iter()
                    .filter_map(|u| u.username().map(str::to_owned))
                    .collect(),
                next: out.next_token().map(str::to_owned),
            });
        }
        let out = self
            .client
            .list_users()
            .user_pool_id(pool)
            .set_filter(filter.map(str::to_owned))
            .set_pagination_token(token)
            .send()
            .await
            .map_err(call_error)?;
        Ok(UserPage {
            usernames: out
                .users()
                .iter()
                .filter_map(|u| u.username().map(str::to_owned))
                .collect(),
            next: out.pagination_token().map(str::to_owned),
        })
    }
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
                Retryable,
            ),
            (
                "LimitExceededException",
                "Exceeded daily email limit for the operation or the account.",
                400,
                RunFatal,
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
            ("ExpiredTokenException", "", 400, RunFatal),
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
        assert!(!e("TooManyRequestsException").may_have_applied());
        assert!(!e("UserNotFoundException").may_have_applied());
    }

    #[test]
    fn prediction_follows_cognito_state_rules() {
        let s = |status: &str, enabled, verified| UserState {
            status: status.into(),
            enabled,
            verified_contact: verified,
        };
        assert_eq!(s("CONFIRMED", true, true).predicted_error(), None);
        assert_eq!(s("RESET_REQUIRED", true, false).predicted_error(), None);
        assert_eq!(
            s("CONFIRMED", false, true).predicted_error().unwrap().0,
            "NotAuthorizedException"
        );
        assert_eq!(
            s("UNCONFIRMED", true, true).predicted_error().unwrap().0,
            "NotAuthorizedException"
        );
        assert_eq!(
            s("CONFIRMED", true, false).predicted_error().unwrap().0,
            "InvalidParameterException"
        );
    }
}
