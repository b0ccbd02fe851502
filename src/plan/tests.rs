//! `plan()` by table: every combination of declared / recorded / live presence, and every
//! kind of difference.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use sha2::Digest;

use super::fixtures::*;
use super::*;
use crate::config::Param;
use crate::secret::{Secret, SecretRef};
use crate::state::{Action as Mutation, Pending};

fn run(d: Vec<Connection>, s: &State, l: &Live) -> Plan {
    plan(&desired(d), s, l, &Options::default())
}

fn only(plan: &Plan) -> &Change {
    let acting: Vec<&Change> = plan.changes.iter().collect();
    assert_eq!(acting.len(), 1, "{:#?}", plan.changes);
    acting[0]
}

fn paths(change: &Change) -> Vec<&str> {
    change.fields.iter().map(|f| f.path.as_str()).collect()
}

#[test]
fn create_when_neither_recorded_nor_live() {
    let p = run(vec![conn("a", "A")], &state(), &live(vec![]));
    let c = only(&p);
    assert_eq!((c.action, c.reason), (Action::Create, None));
    assert!(paths(c).contains(&"auth.params.password"));
    let secret = c
        .fields
        .iter()
        .find(|f| f.path == "auth.params.password")
        .unwrap();
    assert!(secret.sensitive && secret.after.is_none());
    assert_eq!(
        p.summary(),
        Summary {
            import: 0,
            add: 1,
            change: 0,
            destroy: 0,
            ..Summary::default()
        }
    );
}

#[test]
fn nothing_to_do_when_all_three_agree() {
    let c = conn("a", "A");
    let mut s = state();
    applied(&mut s, &c, "id1");
    let p = run(vec![c.clone()], &s, &live(vec![live_of(&c, "id1")]));
    assert_eq!(only(&p).action, Action::NoOp);
    assert!(p.drift.is_empty() && !p.has_changes());
    assert_eq!(only(&p).unchanged, 4, "name, description and two params");
}

#[test]
fn a_config_rename_is_an_update_from_config() {
    let c = conn("a", "A");
    let mut s = state();
    applied(&mut s, &c, "id1");
    let p = run(vec![conn("a", "A2")], &s, &live(vec![live_of(&c, "id1")]));
    let ch = only(&p);
    assert_eq!(ch.action, Action::Update);
    assert_eq!(ch.fields[0].path, "name");
    assert_eq!(ch.fields[0].origin, Some(Origin::Config));
    assert!(!ch.resend_secrets, "a rename sends no secrets");
    assert_eq!(ch.etag.as_deref(), Some("\"etag-id1\""));
}

#[test]
fn a_rename_in_aep_is_drift_and_put_back() {
    let c = conn("a", "A");
    let mut s = state();
    applied(&mut s, &c, "id1");
    let mut l = live_of(&c, "id1");
    l.name = "renamed in the UI".into();
    l.etag = Some("\"moved\"".into());
    let p = run(vec![c], &s, &live(vec![l]));
    let ch = only(&p);
    assert_eq!(ch.action, Action::Update);
    let name = &ch.fields[0];
    assert_eq!(
        (name.origin, name.before.clone(), name.after.clone()),
        (
            Some(Origin::Outside),
            Some(json!("renamed in the UI")),
            Some(json!("A"))
        )
    );
    assert!(ch.resend_secrets, "the etag moved: secrets may have changed too");
    assert_eq!(p.drift.len(), 1);
    assert_eq!(p.drift[0].kind, DriftKind::Changed);
    assert!(p.drift[0].etag_changed);
}

#[test]
fn a_rotated_secret_is_an_update_by_digest() {
    let c = conn("a", "A");
    let mut s = state();
    applied(&mut s, &c, "id1");
    let mut rotated = c.clone();
    rotated.auth.params.insert(
        "password".into(),
        Param::Secret {
            reference: SecretRef::Env("PASSWORD".into()),
            value: Some(Secret::new("new-pw")),
        },
    );
    let p = run(vec![rotated], &s, &live(vec![live_of(&c, "id1")]));
    let ch = only(&p);
    assert_eq!(ch.action, Action::Update);
    assert!(ch.resend_secrets);
    assert!(
        ch.fields
            .iter()
            .all(|f| f.sensitive && f.before.is_none() && f.after.is_none())
    );
    assert_eq!(paths(ch), ["auth.params.password", "auth.params.securityToken"]);
}

#[test]
fn an_etag_moved_outside_resends_the_secrets_and_says_why() {
    let c = conn("a", "A");
    let mut s = state();
    applied(&mut s, &c, "id1");
    let mut l = live_of(&c, "id1");
    l.etag = Some("\"changed-in-ui\"".into());
    let p = run(vec![c], &s, &live(vec![l]));
    let ch = only(&p);
    assert_eq!(
        (ch.action, ch.reason),
        (Action::Update, Some(Reason::UpdateBecauseChangedOutside))
    );
    assert!(ch.resend_secrets);
    assert!(ch.notes[0].contains("etag moved"));
    assert!(ch.fields.iter().all(|f| f.origin == Some(Origin::Outside)));
}

#[test]
fn a_spec_change_is_a_replace_and_protect_refuses_it() {
    let c = conn("a", "A");
    let mut s = state();
    applied(&mut s, &c, "id1");
    let mut changed = c.clone();
    changed.auth.spec_name = "OAuth2 Client Credential".into();
    let p = run(vec![changed.clone()], &s, &live(vec![live_of(&c, "id1")]));
    let ch = only(&p);
    assert_eq!(
        (ch.action, ch.reason),
        (Action::Replace, Some(Reason::ReplaceBecauseCannotUpdate))
    );
    assert!(ch.fields[0].forces_replacement);
    assert_eq!(
        p.summary(),
        Summary {
            import: 0,
            add: 1,
            change: 0,
            destroy: 1,
            ..Summary::default()
        }
    );
    changed.lifecycle.protect = true;
    let p = run(vec![changed], &s, &live(vec![live_of(&c, "id1")]));
    assert!(p.changes.is_empty());
    assert!(p.errors[0].says("is protected"), "{:?}", p.errors);
}

#[test]
fn removed_from_config_is_a_delete_unless_protected_in_state() {
    let c = conn("a", "A");
    let mut s = state();
    applied(&mut s, &c, "id1");
    let p = run(vec![], &s, &live(vec![live_of(&c, "id1")]));
    let ch = only(&p);
    assert_eq!(
        (ch.action, ch.reason),
        (Action::Delete, Some(Reason::DeleteBecauseNoResourceConfig))
    );
    assert!(
        p.warnings.iter().any(|w| w.contains("FLOW-1418")),
        "{:?}",
        p.warnings
    );
    // The protection outlives the configuration that set it.
    let mut protected = c.clone();
    protected.lifecycle.protect = true;
    let mut s = state();
    applied(&mut s, &protected, "id1");
    let p = run(vec![], &s, &live(vec![live_of(&c, "id1")]));
    assert!(p.changes.is_empty());
    assert!(p.errors[0].says("protection is remembered in the state"));
    assert!(p.errors[0].says("flowform state rm"));
}

#[test]
fn deleted_in_aep_is_recreated_or_forgotten() {
    let c = conn("a", "A");
    let mut s = state();
    applied(&mut s, &c, "id1");
    let p = run(vec![c.clone()], &s, &live(vec![]));
    let ch = only(&p);
    assert_eq!(
        (ch.action, ch.reason),
        (Action::Create, Some(Reason::RecreateBecauseDeletedOutside))
    );
    assert_eq!(p.drift[0].kind, DriftKind::Deleted);
    let p = run(vec![], &s, &live(vec![]));
    assert_eq!(
        (only(&p).action, only(&p).reason),
        (Action::Forget, Some(Reason::ForgetBecauseDeletedOutside))
    );
    assert_eq!(
        p.summary(),
        Summary {
            forget: 1,
            ..Summary::default()
        }
    );
    assert!(p.has_changes(), "the state still changes");
}

#[test]
fn ignore_changes_hides_what_it_names() {
    let c = conn("a", "A");
    let mut s = state();
    applied(&mut s, &c, "id1");
    let mut d = c.clone();
    d.description = Some("new description".into());
    d.lifecycle.ignore_changes = ["description".to_owned()].into();
    assert_eq!(
        only(&run(vec![d.clone()], &s, &live(vec![live_of(&c, "id1")]))).action,
        Action::NoOp
    );
    // Ignoring the auth params ignores an etag moved outside too: no secrets are resent.
    d.lifecycle.ignore_changes = ["description".to_owned(), "auth.params".to_owned()].into();
    let mut l = live_of(&c, "id1");
    l.etag = Some("\"moved\"".into());
    params_mut(&mut l).insert("username".into(), json!("someone-else"));
    assert_eq!(only(&run(vec![d], &s, &live(vec![l]))).action, Action::NoOp);
}

#[test]
fn initializing_connections_are_shown_not_updated() {
    let c = conn("a", "A");
    let mut s = state();
    applied(&mut s, &c, "id1");
    let mut l = live_of(&c, "id1");
    l.state = Some("initializing".into());
    l.etag = None;
    let p = run(vec![conn("a", "renamed")], &s, &live(vec![l]));
    let ch = only(&p);
    assert_eq!(ch.action, Action::NoOp);
    assert!(ch.initializing && ch.notes[0].contains("initializing"));
}

#[test]
fn server_added_params_are_not_differences() {
    let c = conn("a", "A");
    let mut s = state();
    applied(&mut s, &c, "id1");
    let mut l = live_of(&c, "id1");
    params_mut(&mut l).insert("orgId".into(), json!("00D000"));
    assert_eq!(only(&run(vec![c], &s, &live(vec![l]))).action, Action::NoOp);
}

#[test]
fn a_param_removed_from_config_is_removed() {
    let c = conn("a", "A");
    let mut s = state();
    applied(&mut s, &c, "id1");
    let mut d = c.clone();
    d.auth.params.remove("apiVersion");
    let ch = run(vec![d], &s, &live(vec![live_of(&c, "id1")]));
    let ch = only(&ch);
    assert_eq!(ch.action, Action::Update);
    assert_eq!(ch.fields[0].path, "auth.params.apiVersion");
    assert_eq!(
        (ch.fields[0].before.clone(), ch.fields[0].after.clone()),
        (Some(json!("60.0")), None)
    );
    assert!(ch.resend_secrets, "params are sent whole, secrets included");
}

#[test]
fn targets_limit_the_plan() {
    let p = plan(
        &desired(vec![conn("a", "A"), conn("b", "B")]),
        &state(),
        &live(vec![]),
        &Options {
            targets: ["b".to_owned()].into(),
            mode: Mode::Normal,
            ..Options::default()
        },
    );
    assert_eq!(only(&p).key, "b");
}

#[test]
fn import_blocks_adopt_and_then_update() {
    let mut d = conn("a", "A");
    d.import = Some("id9".into());
    let mut l = live_of(&d, "id9");
    l.name = "Old name".into();
    let p = run(vec![d.clone()], &state(), &live(vec![l]));
    let ch = only(&p);
    assert_eq!(
        (ch.action, ch.reason),
        (Action::Adopt, Some(Reason::ImportBecauseImportBlock))
    );
    // A rename is sent; the secrets, which AEP never shows, are not.
    assert!(ch.then_update && !ch.resend_secrets);
    assert_eq!(ch.fields.len(), 1);
    assert_eq!(ch.fields[0].path, "name");
    assert_eq!(
        p.summary(),
        Summary {
            import: 1,
            add: 0,
            change: 1,
            destroy: 0,
            ..Summary::default()
        }
    );
    // As AEP has it: imported, nothing sent, and the plan says so.
    let p = run(vec![d.clone()], &state(), &live(vec![live_of(&d, "id9")]));
    let ch = only(&p);
    assert!(!ch.then_update && !ch.resend_secrets && ch.fields.is_empty());
    assert!(
        ch.notes.iter().any(|n| n.starts_with("secrets: not sent")),
        "{:?}",
        ch.notes
    );
    assert_eq!(
        p.summary(),
        Summary {
            import: 1,
            ..Summary::default()
        }
    );
    // A plain param that differs goes with the secrets: AEP replaces the params whole.
    let mut l = live_of(&d, "id9");
    params_mut(&mut l).insert("username".into(), json!("someone else"));
    let p = run(vec![d.clone()], &state(), &live(vec![l]));
    let ch = only(&p);
    assert!(ch.then_update && ch.resend_secrets);
    assert!(ch.fields.iter().any(|f| f.sensitive));
    assert!(
        ch.notes.iter().any(|n| n.starts_with("secrets: sent")),
        "{:?}",
        ch.notes
    );
    let p = run(vec![d], &state(), &live(vec![]));
    assert!(p.errors[0].says("AEP has no such connection"), "{:?}", p.errors);
}

#[test]
fn an_interrupted_create_is_adopted_recreated_or_refused() {
    let d = conn("a", "A");
    let mut s = state();
    s.pending.push(Pending {
        address: "prod/a".into(),
        action: Mutation::Create,
        sandbox: "prod".into(),
        name: "A".into(),
        scope: vec![SF.into()],
        started_at: 100,
        fingerprint: fingerprint(&d.resource(), &s),
    });
    let p = run(vec![d.clone()], &s, &live(vec![live_of(&d, "made")]));
    let ch = only(&p);
    assert_eq!(
        (ch.action, ch.reason, ch.id.as_deref()),
        (
            Action::Adopt,
            Some(Reason::ImportBecauseRecoveredFromInterruptedApply),
            Some("made")
        )
    );
    assert!(ch.notes[0].contains("recovered from an interrupted apply"));
    assert!(!ch.resend_secrets, "the create carried this very configuration");
    let p = run(vec![d.clone()], &s, &live(vec![]));
    assert_eq!(only(&p).action, Action::Create);
    let p = run(
        vec![d.clone()],
        &s,
        &live(vec![live_of(&d, "one"), live_of(&d, "two")]),
    );
    assert!(p.changes.is_empty());
    assert!(
        p.errors[0].says("2 connections named `A`") && p.errors[0].says("one, two"),
        "{:?}",
        p.errors
    );
    let mut unrefreshed = live(vec![]);
    unrefreshed.listed.clear();
    unrefreshed.refreshed = false;
    assert!(run(vec![d], &s, &unrefreshed).errors[0].says("needs a refresh"));
}

#[test]
fn without_refresh_the_state_stands_for_aep() {
    let c = conn("a", "A");
    let mut s = state();
    applied(&mut s, &c, "id1");
    let none = Live::default();
    let p = run(vec![c.clone()], &s, &none);
    assert_eq!(only(&p).action, Action::NoOp);
    assert!(!p.refreshed && p.drift.is_empty());
    let ch = run(vec![conn("a", "A2")], &s, &none);
    assert_eq!(only(&ch).action, Action::Update);
    assert_eq!(only(&ch).fields[0].origin, Some(Origin::Config));
}

#[test]
fn destroy_deletes_everything_but_the_protected() {
    let (a, mut b) = (conn("a", "A"), conn("b", "B"));
    b.lifecycle.protect = true;
    let mut s = state();
    applied(&mut s, &a, "id1");
    applied(&mut s, &b, "id2");
    let p = plan(
        &desired(vec![a.clone(), b.clone()]),
        &s,
        &live(vec![live_of(&a, "id1"), live_of(&b, "id2")]),
        &Options {
            targets: BTreeSet::new(),
            mode: Mode::Destroy,
            ..Options::default()
        },
    );
    assert_eq!(only(&p).key, "a");
    assert_eq!(only(&p).reason, Some(Reason::DeleteBecauseDestroy));
    assert_eq!(p.errors.len(), 1);
}

#[test]
fn a_taken_name_is_an_error_naming_the_import_never_a_second_create() {
    let d = conn("a", "A");
    let p = run(vec![d.clone()], &state(), &live(vec![live_of(&d, "theirs")]));
    assert!(p.changes.is_empty(), "{:?}", p.changes);
    assert_eq!(p.errors.len(), 1);
    let error = &p.errors[0];
    for part in [
        "`prod/a`",
        "named `A`",
        "flowform import a theirs",
        "import: {id: theirs}",
    ] {
        assert!(error.says(part), "{part}: {error:?}");
    }
    // Also when it is recreated after a delete outside, and when it is replaced.
    let mut s = state();
    applied(&mut s, &d, "gone");
    let p = run(
        vec![d.clone()],
        &s,
        &live(vec![live_of(&conn("b", "A"), "theirs")]),
    );
    assert!(p.changes.is_empty() && p.errors[0].says("theirs"), "{p:?}");
    let mut replaced = d.clone();
    replaced.auth.spec_name = "OAuth2 Client Credential".into();
    let p = run(
        vec![replaced],
        &s,
        &live(vec![live_of(&d, "gone"), live_of(&conn("b", "A"), "theirs")]),
    );
    assert!(p.errors[0].says("theirs"), "{p:?}");
    // A rename to a taken name is refused the same way.
    let mut s = state();
    applied(&mut s, &d, "mine");
    let mut renamed = d.clone();
    renamed.name = "Theirs".into();
    let p = run(
        vec![renamed],
        &s,
        &live(vec![live_of(&d, "mine"), live_of(&conn("b", "Theirs"), "theirs")]),
    );
    assert!(
        p.changes.is_empty() && p.errors[0].says("named `Theirs`"),
        "{p:?}"
    );
    // Without a listing, the plan cannot know (the applier checks before it creates).
    let unlisted = Live {
        refreshed: true,
        ..Live::default()
    };
    let p = run(vec![conn("c", "C")], &state(), &unlisted);
    assert!(p.errors.is_empty() && only(&p).action == Action::Create, "{p:?}");
}

#[test]
fn refresh_only_plans_no_changes_but_drift() {
    let c = conn("a", "A");
    let mut s = state();
    applied(&mut s, &c, "id1");
    let mut l = live_of(&c, "id1");
    l.description = None;
    let p = plan(
        &desired(vec![conn("a", "changed")]),
        &s,
        &live(vec![l]),
        &Options {
            targets: BTreeSet::new(),
            mode: Mode::RefreshOnly,
            ..Options::default()
        },
    );
    assert!(p.changes.is_empty());
    assert_eq!(p.drift[0].fields[0].path, "description");
    assert!(p.has_changes());
}

#[test]
fn plans_are_deterministic_and_secret_free() {
    let (a, b) = (conn("a", "A"), conn("b", "B"));
    let mut s = state();
    applied(&mut s, &a, "id1");
    let l = live(vec![live_of(&a, "id1")]);
    let one = run(vec![b.clone(), a.clone()], &s, &l);
    let two = run(vec![a, b], &s, &l);
    assert_eq!(one, two);
    let json: Value = serde_json::to_value(&one).unwrap();
    let text = json.to_string();
    for secret in [PASSWORD, TOKEN] {
        assert!(!text.contains(secret), "{text}");
    }
}

#[test]
fn summaries_count_like_terraform() {
    let mut p = run(vec![], &state(), &Live::default());
    let mk = |action, then_update| Change {
        address: "prod/x".into(),
        key: "x".into(),
        sandbox: "prod".into(),
        action,
        reason: None,
        id: None,
        etag: None,
        name: "x".into(),
        fields: Vec::new(),
        unchanged: 0,
        resend_secrets: false,
        then_update,
        initializing: false,
        notes: Vec::new(),
        depends_on: Vec::new(),
        cause: None,
    };
    p.changes = vec![
        mk(Action::Create, false),
        mk(Action::Update, false),
        mk(Action::Replace, false),
        mk(Action::Delete, false),
        mk(Action::Adopt, true),
        mk(Action::Adopt, false),
        mk(Action::Forget, false),
        mk(Action::NoOp, false),
    ];
    assert_eq!(
        p.summary(),
        Summary {
            import: 2,
            add: 2,
            change: 2,
            destroy: 2,
            forget: 1,
            ..Summary::default()
        }
    );
}

#[test]
fn an_update_an_interrupted_run_sent_is_settled_not_reported_as_drift() {
    let old = conn("a", "A");
    let mut s = state();
    applied(&mut s, &old, "id1");
    let new = conn("a", "A renamed");
    s.pending.push(Pending {
        address: "prod/a".into(),
        action: Mutation::Update,
        sandbox: "prod".into(),
        name: new.name.clone(),
        scope: vec![SF.into()],
        started_at: 1_000,
        fingerprint: fingerprint(&new.resource(), &s),
    });
    // AEP shows the rename, made by flowform's own credential after the update began.
    let mut l = live_of(&new, "id1");
    l.etag = Some("\"moved\"".into());
    l.updated_at = Some(2_000);
    l.updated_client = Some("flowform-client".into());
    let mut seen = live(vec![l.clone()]);
    seen.own_client = Some("flowform-client".into());
    let p = run(vec![new.clone()], &s, &seen);
    assert!(p.drift.is_empty(), "{:?}", p.drift);
    let c = only(&p);
    assert_eq!(
        (c.action, c.reason, c.then_update, c.resend_secrets),
        (
            Action::Adopt,
            Some(Reason::ImportBecauseRecoveredFromInterruptedApply),
            false,
            false
        )
    );
    // The update never arrived (the etag did not move, though flowform made the connection
    // recently): the rotated secrets are sent again, never taken as sent.
    let mut rotated = old.clone();
    if let Some(Param::Secret { value, .. }) = rotated.auth.params.get_mut("password") {
        *value = Some(Secret::new("rotated"));
    }
    s.pending[0].fingerprint = fingerprint(&rotated.resource(), &s);
    let mut unchanged = live_of(&old, "id1");
    unchanged.updated_at = Some(2_000);
    unchanged.updated_client = Some("flowform-client".into());
    let mut seen = live(vec![unchanged]);
    seen.own_client = Some("flowform-client".into());
    let p = run(vec![rotated], &s, &seen);
    assert_eq!(only(&p).action, Action::Update, "{p:?}");
    assert!(only(&p).resend_secrets);
    s.pending[0].fingerprint = fingerprint(&new.resource(), &s);
    // Changed by someone else (the AEP UI): drift, and the update is sent again.
    l.updated_client = Some("exc_app".into());
    let mut seen = live(vec![l]);
    seen.own_client = Some("flowform-client".into());
    let p = run(vec![new], &s, &seen);
    assert_eq!(p.drift.len(), 1);
    assert_eq!(only(&p).action, Action::Update);
}

#[test]
fn a_delete_an_interrupted_run_sent_is_not_drift() {
    let c = conn("a", "A");
    let mut s = state();
    applied(&mut s, &c, "id1");
    s.pending.push(Pending {
        address: "prod/a".into(),
        action: Mutation::Delete,
        sandbox: "prod".into(),
        name: "A".into(),
        scope: vec![SF.into()],
        started_at: 1_000,
        fingerprint: String::new(),
    });
    let p = run(vec![], &s, &live(vec![]));
    assert!(p.drift.is_empty(), "{:?}", p.drift);
    assert_eq!(only(&p).action, Action::Forget);
}

#[test]
fn interrupted_create_candidates() {
    let c = conn("a", "A");
    let mut mine = live_of(&c, "mine");
    mine.created_at = Some(1_000_000);
    let mut old = live_of(&c, "old");
    old.created_at = Some(0);
    let other = live_of(&conn("b", "B"), "other");
    let seen = [mine.clone(), old.clone(), other];
    let none = |_: &str| false;
    // Created since the intent (give or take skew), by name, not owned.
    assert_eq!(
        interrupted_create(&seen, "A", none, 1_000_000),
        Interrupted::One(&seen[0])
    );
    assert_eq!(
        interrupted_create(&seen, "A", |id| id == "mine", 1_000_000),
        Interrupted::Nothing
    );
    assert!(matches!(
        interrupted_create(&seen, "A", none, 0),
        Interrupted::Several(found) if found.len() == 2
    ));
    assert_eq!(interrupted_create(&seen, "C", none, 0), Interrupted::Nothing);
}

fn key_ref(key: &str) -> crate::config::moved::KeyRef {
    crate::config::moved::KeyRef {
        kind: None,
        sandbox: None,
        key: key.into(),
    }
}

fn moved(from: &str, to: &str) -> crate::config::moved::Moved {
    crate::config::moved::Moved {
        from: key_ref(from),
        to: key_ref(to),
        origin: crate::config::Origin {
            file: "moves.yaml".into(),
            line: 3,
            column: 5,
        },
    }
}

fn removed(key: &str) -> crate::config::moved::Removed {
    crate::config::moved::Removed {
        key: key_ref(key),
        origin: crate::config::Origin {
            file: "moves.yaml".into(),
            line: 7,
            column: 5,
        },
    }
}

#[test]
fn a_move_is_state_only_and_the_rest_is_planned_under_the_new_key() {
    let old = conn("old", "A");
    let mut s = state();
    applied(&mut s, &old, "id1");
    let mut new = old.clone();
    new.key = "new".into();
    let mut d = desired(vec![new.clone()]);
    d.moved.push(moved("old", "new"));
    let l = live(vec![live_of(&old, "id1")]);
    let p = plan(&d, &s, &l, &Options::default());
    assert_eq!(
        p.moves,
        [Move {
            from: "prod/old".into(),
            to: "prod/new".into(),
            id: "id1".into(),
            origin: "moves.yaml:3:5".into()
        }]
    );
    // Not a delete and a create: the connection is unchanged under its new key.
    assert_eq!(
        (only(&p).address.as_str(), only(&p).action),
        ("prod/new", Action::NoOp)
    );
    assert!(p.has_changes());
    assert_eq!(
        p.summary(),
        Summary {
            moved: 1,
            ..Summary::default()
        }
    );
    // Moved and renamed in AEP too: an update of the moved connection.
    new.name = "A renamed".into();
    let mut d = desired(vec![new]);
    d.moved.push(moved("old", "new"));
    let p = plan(&d, &s, &l, &Options::default());
    assert_eq!(
        (only(&p).address.as_str(), only(&p).action),
        ("prod/new", Action::Update)
    );
    // Once made, the entry plans nothing.
    let mut after = s.clone();
    rekey(&mut after, &p.moves[0]);
    let mut done = conn("new", "A");
    done.key = "new".into();
    let mut d = desired(vec![done]);
    d.moved.push(moved("old", "new"));
    let p = plan(&d, &after, &l, &Options::default());
    assert!(p.moves.is_empty() && !p.has_changes(), "{p:?}");
}

#[test]
fn chains_are_followed_and_conflicts_refused() {
    let a = conn("a", "A");
    let mut s = state();
    applied(&mut s, &a, "id1");
    let mut c = a.clone();
    c.key = "c".into();
    let l = live(vec![live_of(&a, "id1")]);
    let mut d = desired(vec![c.clone()]);
    d.moved.extend([moved("a", "b"), moved("b", "c")]);
    let p = plan(&d, &s, &l, &Options::default());
    assert_eq!(
        (p.moves[0].from.as_str(), p.moves[0].to.as_str()),
        ("prod/a", "prod/c")
    );
    // The state already holds the target: an error, never a guess.
    let mut held = s.clone();
    let mut other = conn("c", "C");
    other.name = "C".into();
    applied(&mut held, &other, "id2");
    let p = plan(&d, &held, &l, &Options::default());
    assert!(p.moves.is_empty());
    assert!(
        p.errors[0].says("but the state already holds `prod/c` (id2)"),
        "{:?}",
        p.errors
    );
    assert!(
        p.errors[0].says("removed: [{key: a, destroy: false}]"),
        "{:?}",
        p.errors
    );
    assert!(
        !p.changes.iter().any(|c| c.action == Action::Delete),
        "what a move meant to keep is never planned away: {:?}",
        p.changes
    );
    // Two keys of one chain both held: which one goes there is not flowform's to guess.
    let mut both = s.clone();
    let mut b = a.clone();
    b.key = "b".into();
    b.name = "B".into();
    applied(&mut both, &b, "id3");
    let p = plan(&d, &both, &l, &Options::default());
    assert!(
        p.errors[0].says("would bring 2 connections there"),
        "{:?}",
        p.errors
    );
}

#[test]
fn a_removed_connection_is_forgotten_never_deleted() {
    let a = conn("a", "A");
    let mut s = state();
    applied(&mut s, &a, "id1");
    s.resources.get_mut("prod/a").unwrap().protect = true;
    let mut d = desired(vec![]);
    d.removed.push(removed("a"));
    let l = live(vec![live_of(&a, "id1")]);
    for mode in [Mode::Normal, Mode::Destroy] {
        let p = plan(
            &d,
            &s,
            &l,
            &Options {
                mode,
                ..Options::default()
            },
        );
        assert!(
            p.errors.is_empty(),
            "protection is about deleting: {:?}",
            p.errors
        );
        let ch = only(&p);
        assert_eq!(
            (ch.action, ch.reason),
            (Action::Forget, Some(Reason::ForgetBecauseRemoved))
        );
        assert!(ch.notes[0].contains("`removed` at moves.yaml:7:5: AEP keeps the connection"));
        assert_eq!(
            p.summary(),
            Summary {
                forget: 1,
                ..Summary::default()
            }
        );
    }
}

#[test]
fn saved_plans_of_the_older_format_still_read() {
    let mut p = run(vec![conn("a", "A")], &state(), &live(vec![]));
    p.format_version = "1.1".into();
    let bytes = serde_json::to_vec(&p).unwrap();
    assert_eq!(Plan::from_saved(&bytes).unwrap(), p);
    p.format_version = "1.0".into();
    let bytes = serde_json::to_vec(&p).unwrap();
    assert!(
        Plan::from_saved(&bytes)
            .unwrap_err()
            .contains("reads 1.1, 1.2, 1.3")
    );
}

#[test]
fn a_protect_change_is_a_state_only_change_never_no_changes() {
    let mut c = conn("a", "A");
    c.lifecycle.protect = true;
    let mut s = state();
    applied(&mut s, &c, "id1");
    if let Some(r) = s.resources.get_mut("prod/a") {
        r.protect = true;
    }
    let seen = live(vec![live_of(&c, "id1")]);
    assert!(!run(vec![c.clone()], &s, &seen).has_changes());
    c.lifecycle.protect = false;
    let p = run(vec![c.clone()], &s, &seen);
    let ch = only(&p);
    assert_eq!(ch.action, Action::StateOnly);
    assert_eq!(paths(ch), ["lifecycle.protect"]);
    assert_eq!(
        (ch.fields[0].before.clone(), ch.fields[0].after.clone()),
        (Some(json!(true)), Some(json!(false)))
    );
    assert!(p.has_changes());
    assert_eq!(p.summary().state_only, 1);
    // With a change to send as well, it rides along on the update.
    c.name = "A renamed".into();
    let p = run(vec![c], &s, &seen);
    let ch = only(&p);
    assert_eq!(ch.action, Action::Update);
    assert_eq!(paths(ch), ["name", "lifecycle.protect"]);
}

#[test]
fn replace_by_request_rebuilds_what_nothing_forces_and_names_what_goes() {
    let c = conn("a", "A");
    let mut s = state();
    applied(&mut s, &c, "id1");
    let seen = live(vec![live_of(&c, "id1")]);
    let replacing = |keys: &[&str], d: Vec<Connection>, s: &State| {
        plan(
            &desired(d),
            s,
            &seen,
            &Options {
                replace: keys.iter().map(|k| (*k).to_owned()).collect(),
                ..Options::default()
            },
        )
    };
    let p = replacing(&["a"], vec![c.clone()], &s);
    let ch = only(&p);
    assert_eq!(
        (ch.action, ch.reason),
        (Action::Replace, Some(Reason::ReplaceByRequest))
    );
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    // By address too; a key nobody manages is an error, never a silent no-op.
    assert_eq!(
        only(&replacing(&["prod/a"], vec![c.clone()], &s)).action,
        Action::Replace
    );
    let p = replacing(&["nope"], vec![c.clone()], &s);
    assert!(p.errors[0].says("--replace `nope`"), "{:?}", p.errors);
    // A replace that drops params says which.
    let mut other = c.clone();
    other.auth.spec_name = "OAuth2 Client Credential".into();
    other.auth.params.remove("username");
    other.auth.params.remove("securityToken");
    let p = run(vec![other], &s, &seen);
    let removed: Vec<(&str, bool)> = only(&p)
        .fields
        .iter()
        .filter(|f| f.removed)
        .map(|f| (f.path.as_str(), f.sensitive))
        .collect();
    assert_eq!(
        removed,
        [
            ("auth.params.username", false),
            ("auth.params.securityToken", true)
        ]
    );
    // Protected: refused, with the reason.
    let mut protected = c.clone();
    protected.lifecycle.protect = true;
    let p = replacing(&["a"], vec![protected], &s);
    assert!(p.errors[0].says("`--replace` asks for it"), "{:?}", p.errors);
}

#[test]
fn saved_plans_of_the_previous_format_are_still_read() {
    let p = run(vec![conn("a", "A")], &state(), &live(vec![]));
    let mut old = serde_json::to_value(&p).unwrap();
    old["format_version"] = json!("1.1");
    assert!(Plan::from_saved(old.to_string().as_bytes()).is_ok());
    old["format_version"] = json!("1.0");
    let refused = Plan::from_saved(old.to_string().as_bytes()).unwrap_err();
    assert!(refused.contains("reads 1.1, 1.2, 1.3"), "{refused}");
}

#[test]
fn the_plain_form_is_written_as_its_json_value_prints() {
    // Saved plans and journals made before keep their digests: the bytes written directly
    // are those the JSON value printed, whatever the connection holds.
    let mut full = conn("a", "A \"quoted\" ü");
    full.description = None;
    full.import = Some("id-1".into());
    full.lifecycle.protect = true;
    full.lifecycle.ignore_changes = ["name".to_owned(), "auth.params".to_owned()].into();
    full.auth.params.insert(
        "nested".into(),
        crate::config::Param::Plain(serde_json::json!({"z": [1, 2.5, null], "a": true})),
    );
    for c in [conn("b", "B"), full] {
        let c = c.resource();
        let split = c.split_params();
        let mut written = Vec::new();
        super::digest::write_plain_form(&mut written, &c, &split);
        assert_eq!(
            String::from_utf8(written).unwrap(),
            super::digest::plain_form(&c, &split).to_string()
        );
        let s = state();
        let old = serde_json::json!({
            "connection": super::digest::plain_form(&c, &split),
            "secrets": s.secrets_digest(&split.secrets),
        });
        assert_eq!(
            fingerprint(&c, &s),
            crate::state::hex(&sha2::Sha256::digest(old.to_string().as_bytes()))
        );
    }
}
