//! The crash drill: runs with `--global-sign-out` interrupted at random
//! moments by SIGKILL, SIGINT and SIGTERM — during first runs and during
//! resumes, their checks and their sign-outs — then resumed until done.
//! Judged by the simulator: every user reset exactly once (no check here can
//! find a user not reset after a reset reached it) and signed out.

mod common;

use std::time::Duration;

use common::*;

/// Seeds run; each is one simulated incident.
const SEEDS: u64 = 24;
const USERS: usize = 240;

struct Figures {
    interruptions: u64,
    resets_sent: u64,
    reset_twice: u64,
    left_signed_in: u64,
}

async fn drill(seed: u64) -> Figures {
    let s = Scenario::new(&format!("drill-{seed}"))
        .sim(|c| c.latency = Duration::from_millis(3))
        .file("in.txt", &users(USERS));
    let args = [
        "in.txt",
        "--yes",
        "--quiet",
        "--global-sign-out",
        "--rate",
        "800",
        "--sign-out-rate",
        "500",
        "--check-rate",
        "150",
        "--concurrency",
        "12",
    ];
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let rounds = 2 + next(&mut state) % 3;
    let mut interruptions = 0;
    for round in 0..rounds {
        let mut run_args = args.to_vec();
        // As an operator would: resume once a report exists (a run stopped
        // before creating one sent nothing, and says so).
        if s.exists("in.report.csv") {
            run_args.push("--resume");
        }
        let mut child = s.spawn(&run_args).await;
        tokio::time::sleep(Duration::from_millis(40 + next(&mut state) % 400)).await;
        match next(&mut state) % 3 {
            0 => child.kill().await,
            1 => child.signal(libc::SIGINT),
            _ => child.signal(libc::SIGTERM),
        }
        let out = child.finish().await;
        let code = out.code;
        assert!(
            matches!(code, None | Some(0) | Some(130) | Some(143)),
            "seed {seed} round {round}: {code:?} {}",
            out.stderr
        );
        interruptions += 1;
    }
    let mut resume = args.to_vec();
    if s.exists("in.report.csv") {
        resume.push("--resume");
    }
    let out = s.run(&resume).await;
    assert_eq!(out.code, Some(0), "seed {seed}: {}", out.stderr);
    let totals = s.totals();
    let mut left_signed_in = 0;
    for user in usernames(USERS) {
        assert_eq!(s.resets(&user), 1, "seed {seed}: {user}");
        left_signed_in += u64::from(s.sign_outs(&user) == 0);
    }
    assert_eq!(left_signed_in, 0, "seed {seed}: users left signed in");
    Figures {
        interruptions,
        resets_sent: totals
            .calls
            .get("AdminResetUserPassword")
            .copied()
            .unwrap_or(0),
        reset_twice: totals.users_reset_twice,
        left_signed_in,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn random_kills_and_signals_never_reset_twice_or_leave_anyone_signed_in() {
    let mut all = Vec::new();
    // Two incidents at a time: each has its own simulator and directory.
    for pair in (1..=SEEDS).collect::<Vec<_>>().chunks(2) {
        let runs: Vec<_> = pair.iter().map(|s| tokio::spawn(drill(*s))).collect();
        for run in runs {
            all.push(run.await.unwrap());
        }
    }
    let sum = |f: fn(&Figures) -> u64| all.iter().map(f).sum::<u64>();
    eprintln!(
        "drill: {SEEDS} seeds × {USERS} users, {} interruptions, {} resets sent, \
         {} users reset twice, {} users left signed in",
        sum(|f| f.interruptions),
        sum(|f| f.resets_sent),
        sum(|f| f.reset_twice),
        sum(|f| f.left_signed_in),
    );
}
