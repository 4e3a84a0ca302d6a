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
    let w = Workdir::new(&format!("drill-{seed}"));
    let sim = simulator(|c| c.latency = Duration::from_millis(3)).await;
    w.write("in.txt", &users(USERS));
    let args = [
        "--user-pool-id",
        cognito_reset::simulator::DEFAULT_POOL,
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
        if w.path("in.report.csv").exists() {
            run_args.push("--resume");
        }
        let mut child = command(&w.dir, &sim, &run_args).spawn().unwrap();
        tokio::time::sleep(Duration::from_millis(40 + next(&mut state) % 400)).await;
        match next(&mut state) % 3 {
            0 => child.kill().await.unwrap(),
            1 => signal(&child, libc::SIGINT),
            _ => signal(&child, libc::SIGTERM),
        }
        let out = child.wait_with_output().await.unwrap();
        let code = out.status.code();
        assert!(
            matches!(code, None | Some(0) | Some(130) | Some(143)),
            "seed {seed} round {round}: {code:?} {}",
            stderr(&out)
        );
        interruptions += 1;
    }
    let mut resume = args.to_vec();
    if w.path("in.report.csv").exists() {
        resume.push("--resume");
    }
    let out = command(&w.dir, &sim, &resume).output().await.unwrap();
    assert_eq!(out.status.code(), Some(0), "seed {seed}: {}", stderr(&out));
    let totals = sim.state().totals();
    let mut left_signed_in = 0;
    for i in 1..=USERS {
        let user = format!("user{i:04}");
        assert_eq!(resets(&sim, &user), 1, "seed {seed}: {user}");
        left_signed_in += u64::from(sign_outs(&sim, &user) == 0);
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
