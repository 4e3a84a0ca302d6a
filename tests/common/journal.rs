//! The journal beside a report, written as a crashed run leaves it and read
//! back for the intents it still holds.

use cognito_reset::simulator::DEFAULT_POOL;

use super::workdir::Workdir;

/// The header of a CSV report written without `--global-sign-out`.
pub const REPORT_HEADER: &str = "line,username,user_pool_id,outcome,error_code,error_message,attempts,duration_ms,request_id,completed_at,hash\n";

/// The header of a CSV report written with `--global-sign-out`.
pub const SIGN_OUT_REPORT_HEADER: &str = "line,username,user_pool_id,outcome,error_code,error_message,attempts,duration_ms,request_id,completed_at,signed_out,sign_out_error,hash\n";

/// The first line of the journal a real run over `input` (a file) with the
/// default pool writes: what the report belongs to.
pub fn journal_header(input: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest: String = Sha256::digest(input.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!(
        "{{\"cognito_reset_journal\":2,\"fingerprint\":\"sha256:{digest} pool:{DEFAULT_POOL}\",\"mode\":\"reset\",\"sign_out\":false}}\n"
    )
}

/// A journal line recording the intent to reset `user` of the default pool.
pub fn intent_line(user: &str) -> String {
    format!("{{\"pool\":\"{DEFAULT_POOL}\",\"user\":\"{user}\"}}\n")
}

/// The header of a CSV report, with or without the sign-out columns.
pub fn report_header(sign_out: bool) -> &'static str {
    if sign_out {
        SIGN_OUT_REPORT_HEADER
    } else {
        REPORT_HEADER
    }
}

/// `in.txt` holding `input`, a report with only its header and a journal
/// holding intents for `uncertain`, as a run killed right after sending their
/// resets leaves them.
pub fn crashed_report(w: &Workdir, input: &str, uncertain: &[&str]) {
    w.write("in.txt", input);
    w.write("in.report.csv", REPORT_HEADER);
    let mut journal = journal_header(input);
    for user in uncertain {
        journal.push_str(&intent_line(user));
    }
    w.write("in.report.csv.journal", &journal);
}

impl Workdir {
    /// Usernames with an intent in a journal.
    pub fn intents(&self, journal: &str) -> Vec<String> {
        let text = std::fs::read_to_string(self.path(journal)).unwrap_or_default();
        let mut users: Vec<String> = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| v.get("user").and_then(|u| u.as_str()).map(str::to_owned))
            .collect();
        users.sort();
        users.dedup();
        users
    }
}
