//! Snapshots of every render for a plan with every action, the Markdown budget, and no
//! secret in any of them.

use serde_json::json;

use super::*;
use crate::config::Param;
use crate::plan::fixtures::*;
use crate::plan::{Action, Options, fingerprint, plan};
use crate::state::{Action as Mutation, Pending};

/// A plan with every kind of action, drift and a warning.
fn every_action() -> Plan {
    let mut s = state();
    let mut declared = Vec::new();
    let mut seen = Vec::new();

    let mut upd = conn("upd", "Update me");
    upd.description = Some("line one\nline two\nline three\n".into());
    applied(&mut s, &upd, "id-upd");
    seen.push(live_of(&upd, "id-upd"));
    upd.name = "Updated".into();
    upd.description = Some("line one\nline 2\nline three\n".into());
    declared.push(upd);

    let drifted = conn("drifted", "Drifted");
    applied(&mut s, &drifted, "id-drifted");
    let mut l = live_of(&drifted, "id-drifted");
    l.name = "Renamed in the UI".into();
    l.etag = Some("\"moved\"".into());
    seen.push(l);
    declared.push(drifted);

    let rep = conn("rep", "Replace me");
    applied(&mut s, &rep, "id-rep");
    seen.push(live_of(&rep, "id-rep"));
    let mut rep = rep.clone();
    rep.auth.spec_name = "OAuth2 Client Credential".into();
    rep.auth.params.remove("username");
    rep.auth.params.remove("securityToken");
    declared.push(rep);

    let mut prot = conn("prot", "Protected no more");
    prot.lifecycle.protect = true;
    applied(&mut s, &prot, "id-prot");
    seen.push(live_of(&prot, "id-prot"));
    prot.lifecycle.protect = false;
    declared.push(prot);

    let mut rot = conn("rot", "Rotated");
    applied(&mut s, &rot, "id-rot");
    seen.push(live_of(&rot, "id-rot"));
    rot.auth.params.insert(
        "password".into(),
        Param::Secret {
            reference: crate::secret::SecretRef::Env("PASSWORD".into()),
            value: Some(crate::secret::Secret::new("rotated-FIXTURE-SECRET")),
        },
    );
    declared.push(rot);

    let del = conn("del", "Delete me");
    applied(&mut s, &del, "id-del");
    seen.push(live_of(&del, "id-del"));

    let gone = conn("gone", "Gone");
    applied(&mut s, &gone, "id-gone");

    let rec = conn("rec", "Recreate me");
    applied(&mut s, &rec, "id-rec");
    declared.push(rec);

    let mut imp = conn("imp", "Imported");
    imp.import = Some("id-imp".into());
    let mut l = live_of(&imp, "id-imp");
    l.name = "Was called something else".into();
    seen.push(l);
    declared.push(imp);

    let init = conn("init", "Initializing");
    applied(&mut s, &init, "id-init");
    if let Some(r) = s.resources.get_mut("prod/init") {
        r.state = Some("initializing".into());
        r.etag = None;
    }
    let mut l = live_of(&init, "id-init");
    l.state = Some("initializing".into());
    l.etag = None;
    seen.push(l);
    declared.push(init);

    let same = conn("same", "Same");
    applied(&mut s, &same, "id-same");
    seen.push(live_of(&same, "id-same"));
    declared.push(same);

    let rcv = conn("rcv", "Recovered");
    s.pending.push(Pending {
        address: "prod/rcv".into(),
        action: Mutation::Create,
        sandbox: "prod".into(),
        name: "Recovered".into(),
        scope: vec![SF.into()],
        started_at: 50,
        fingerprint: fingerprint(&rcv.resource(), &s),
    });
    seen.push(live_of(&rcv, "id-rcv"));
    declared.push(rcv);

    let new = conn("new", "Brand new");
    declared.push(new);

    // `moved:` one key to another; `removed:` one from management.
    let mut was = conn("was", "Moved");
    applied(&mut s, &was, "id-was");
    seen.push(live_of(&was, "id-was"));
    was.key = "moved".into();
    declared.push(was);
    let kept = conn("kept", "Kept in AEP");
    applied(&mut s, &kept, "id-kept");
    seen.push(live_of(&kept, "id-kept"));
    let origin = |line| crate::config::Origin {
        file: "moves.yaml".into(),
        line,
        column: 5,
    };
    let key = |k: &str| crate::config::moved::KeyRef {
        kind: None,
        sandbox: None,
        key: k.into(),
    };
    let mut desired = desired(declared);
    desired.moved.push(crate::config::moved::Moved {
        from: key("was"),
        to: key("moved"),
        origin: origin(2),
    });
    desired.removed.push(crate::config::moved::Removed {
        key: key("kept"),
        origin: origin(4),
    });

    plan(&desired, &s, &live(seen), &Options::default())
}

#[test]
fn the_scenario_has_every_action() {
    let p = every_action();
    for action in [
        Action::Create,
        Action::Update,
        Action::Replace,
        Action::Delete,
        Action::Adopt,
        Action::Forget,
        Action::StateOnly,
        Action::NoOp,
    ] {
        assert!(p.changes.iter().any(|c| c.action == action), "{action:?}");
    }
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert!(!p.drift.is_empty() && !p.warnings.is_empty());
}

#[test]
fn text_render() {
    insta::assert_snapshot!(anstream::adapter::strip_str(&text::plan(&every_action())).to_string());
}

#[test]
fn text_render_is_coloured_for_terminals() {
    let coloured = text::plan(&every_action());
    assert!(coloured.contains("\u{1b}[32m+\u{1b}[0m"), "green + for creates");
}

#[test]
fn markdown_render() {
    insta::assert_snapshot!(markdown::plan(&every_action(), "`flowform show plan.out`"));
}

#[test]
fn json_render() {
    insta::assert_snapshot!(json::plan(&every_action()));
}

#[test]
fn summary_lines_are_terraforms() {
    let p = every_action();
    assert_eq!(
        summary_line(&p),
        "Plan: 2 to import, 3 to add, 4 to change, 2 to destroy, 1 to move, 2 to forget. 1 to change in the state only."
    );
    // Terraform's sentence stays whole: what changes in the state only comes after it.
    let mut only_state = p.clone();
    only_state
        .changes
        .retain(|c| matches!(c.action, Action::NoOp | Action::StateOnly));
    only_state.moves.clear();
    assert_eq!(
        summary_line(&only_state),
        "Plan: 0 to add, 0 to change, 0 to destroy. 1 to change in the state only."
    );
    let mut none = p.clone();
    none.changes.retain(|c| c.action == Action::NoOp);
    none.moves.clear();
    none.drift.clear();
    assert_eq!(
        summary_line(&none),
        "No changes. Your resources match the configuration."
    );
}

#[test]
fn markdown_stays_under_budget_for_5000_changes() {
    let declared: Vec<_> = (0..5000)
        .map(|i| conn(&format!("connection-{i:04}"), &format!("Connection number {i}")))
        .collect();
    let p = plan(&desired(declared), &state(), &live(vec![]), &Options::default());
    assert_eq!(p.summary().add, 5000);
    let md = markdown::plan(&p, "`flowform show plan.out`");
    assert!(
        md.chars().count() <= markdown::BUDGET,
        "{} characters",
        md.chars().count()
    );
    assert!(md.starts_with("Plan: 5000 to add, 0 to change, 0 to destroy.\n"));
    assert!(md.contains("and 4950 more"));
    assert!(md.contains("characters are not shown. See all of it with `flowform show plan.out`."));
    assert!(md.contains("</details>"));
}

#[test]
fn no_secret_reaches_any_render_or_saved_plan() {
    let p = every_action();
    let saved = serde_json::to_string(&p).unwrap();
    let renders = [text::plan(&p), markdown::plan(&p, "x"), json::plan(&p), saved];
    for render in &renders {
        for secret in [PASSWORD, TOKEN] {
            assert!(!render.contains(secret), "a render holds `{secret}`");
        }
    }
    // The fixtures do carry the secrets, so the check above could fail.
    let declared = conn("x", "X");
    assert!(
        matches!(&declared.auth.params["password"], Param::Secret { value: Some(v), .. } if v.expose() == PASSWORD)
    );
    let _ = json!(null);
}

#[test]
fn a_plan_of_moves_alone_says_so_and_shows_a_moved_update_as_moved() {
    let mut s = state();
    let was = conn("was", "Moved");
    applied(&mut s, &was, "id-was");
    let other = conn("other", "Other");
    applied(&mut s, &other, "id-other");
    let mut moved = was.clone();
    moved.key = "moved".into();
    let mut renamed = other.clone();
    renamed.key = "renamed".into();
    renamed.name = "Other, renamed".into();
    let key = |k: &str| crate::config::moved::KeyRef {
        kind: None,
        sandbox: None,
        key: k.into(),
    };
    let entry = |from: &str, to: &str| crate::config::moved::Moved {
        from: key(from),
        to: key(to),
        origin: crate::config::Origin {
            file: "moves.yaml".into(),
            line: 2,
            column: 5,
        },
    };
    let mut d = desired(vec![moved]);
    d.moved.push(entry("was", "moved"));
    let seen = || live(vec![live_of(&was, "id-was"), live_of(&other, "id-other")]);
    d.insert(other.resource());
    let p = plan(&d, &s, &seen(), &Options::default());
    let text = anstream::adapter::strip_str(&text::plan(&p)).to_string();
    assert!(
        text.starts_with(
            "flowform will perform the following actions:\n\n  # prod/was has moved to prod/moved\n"
        ),
        "{text}"
    );
    assert!(
        text.ends_with("Plan: 0 to add, 0 to change, 0 to destroy, 1 to move.\n"),
        "{text}"
    );
    let mut d = desired(vec![renamed, was.clone()]);
    d.moved.push(entry("other", "renamed"));
    let p = plan(&d, &s, &seen(), &Options::default());
    let text = anstream::adapter::strip_str(&text::plan(&p)).to_string();
    assert!(
        text.contains("  # prod/renamed will be updated in-place\n  # (moved from prod/other: state only)\n"),
        "{text}"
    );
    assert!(!text.contains("has moved to"), "{text}");
}

#[test]
fn characters_that_disguise_text_are_shown_escaped() {
    let tricky = serde_json::json!("pay\u{202E}txt.exe \u{200B}x");
    assert_eq!(super::show(&tricky), "\"pay\\u{202E}txt.exe \\u{200B}x\"");
    assert_eq!(super::visible("plain é ✓"), "plain é ✓");
    assert_eq!(super::visible("a\u{1b}[31mb"), "a\\u{001B}[31mb");
}
