//! Flags, help and exit codes.

use crate::common::flowform;

#[test]
fn help_and_version_succeed_on_stdout() {
    let run = flowform(["--help"]).run().expect_code(0);
    assert!(run.stdout().contains("validate"), "{}", run.stdout());
    let run = flowform(["--version"]).run().expect_code(0);
    assert_eq!(run.stdout(), format!("flowform {}\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn bad_flags_exit_1_not_2() {
    // 2 is kept for "changes present" (`plan --detailed-exitcode`), so usage errors are 1.
    let run = flowform(["validate", "--no-such-flag"]).run().expect_code(1);
    assert!(run.stderr().contains("--no-such-flag"), "{}", run.stderr());
    assert_eq!(run.stdout(), "");
    flowform(["no-such-command"]).run().expect_code(1);
    flowform(Vec::<&str>::new()).run().expect_code(1);
}
