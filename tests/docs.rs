//! The documentation cannot rot: its examples run as written, and its links lead somewhere.
//!
//! Every ```` ```console ```` block of `README.md` and `docs/*.md` is a session at a shell:
//! `$ COMMAND` lines, each followed by what it prints, stdout and stderr together as a
//! terminal shows them. The conventions are trycmd's:
//!
//! - `? CODE` on the line after a command: its exit code, when it is not 0;
//! - `...` on a line of its own: any number of lines (none included);
//! - `[..]` within a line: any text on that line;
//! - `[ROOT]`: the scratch directory the chapter runs in.
//!
//! Each file runs in one `sh`, started in a fresh scratch copy of this repository's project
//! (`flowform.toml` and `examples/`, in `[ROOT]/flowform`), with an empty environment but a
//! `PATH` that finds the built `flowform` first and a `HOME` of `[ROOT]`. So `cd`, variables
//! and files carry from one block to the next within a chapter, as in a reader's terminal,
//! and no chapter sees another's. Blocks with any other info string (`sh`, `text`, `yaml`)
//! are illustrations and are not run.
//!
//! Why not trycmd, which reads the same conventions: its Markdown cases take their files from
//! a `<chapter>.in/` directory beside each chapter (a second copy of the examples per chapter,
//! which would rot in turn), inherit the test's environment unless a TOML sidecar says
//! otherwise, and run registered binaries only (no `cd`, `sed` or `$(…)`); and, even without
//! its default features, it brings sixteen crates new to `Cargo.lock` (rayon, toml_edit,
//! snapbox, humantime, …) for what is a page of code here.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::common::root;

/// One command of a console block, with what the chapter says it prints.
struct Example {
    /// `docs/plans.md:42`: where the `$` line is.
    place: String,
    command: String,
    code: i32,
    expected: Vec<String>,
}

/// The Markdown files of the documentation: the README and the book's chapters.
fn markdown_files() -> Vec<PathBuf> {
    let mut files = vec![root().join("README.md")];
    let mut chapters: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "md"))
        .collect();
    chapters.sort();
    files.extend(chapters);
    files
}

fn relative(path: &Path) -> String {
    path.strip_prefix(root()).unwrap().display().to_string()
}

/// A fenced code block: its info string's first word, and its lines with their numbers.
struct Block {
    info: String,
    lines: Vec<(usize, String)>,
}

/// A Markdown text's prose lines and its fenced code blocks (backtick fences, as the chapters
/// use). A fence closes on a line of at least as many backticks, so a ```` ```` ```` block may
/// show a ```` ``` ```` one.
fn split(text: &str) -> (Vec<&str>, Vec<Block>) {
    let (mut prose, mut blocks) = (Vec::new(), Vec::new());
    let mut open: Option<(usize, Block)> = None;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let ticks = trimmed.len() - trimmed.trim_start_matches('`').len();
        match &mut open {
            Some((fence, _)) if ticks >= *fence && trimmed[ticks..].trim().is_empty() => {
                blocks.push(open.take().unwrap().1);
            }
            Some((_, block)) => block.lines.push((index + 1, line.to_owned())),
            None if ticks >= 3 => {
                let info = trimmed[ticks..].split([' ', ',', '{']).next().unwrap_or("");
                let lines = Vec::new();
                open = Some((
                    ticks,
                    Block {
                        info: info.to_owned(),
                        lines,
                    },
                ));
            }
            None => prose.push(line),
        }
    }
    (prose, blocks)
}

/// The examples of one file, in order.
fn examples(file: &str, text: &str) -> Vec<Example> {
    let mut examples: Vec<Example> = Vec::new();
    for block in split(text).1.into_iter().filter(|b| b.info == "console") {
        let mut lines = block.lines.into_iter().peekable();
        if let Some((number, first)) = lines.peek() {
            assert!(
                first.starts_with("$ "),
                "{file}:{number}: a console block starts with a `$ ` command line"
            );
        }
        while let Some((number, line)) = lines.next() {
            if let Some(command) = line.strip_prefix("$ ") {
                let code = match lines.peek().and_then(|(_, l)| l.strip_prefix("? ")) {
                    Some(code) => {
                        let code = code
                            .parse()
                            .unwrap_or_else(|_| panic!("{file}:{}: `? CODE` takes a number", number + 1));
                        lines.next();
                        code
                    }
                    None => 0,
                };
                examples.push(Example {
                    place: format!("{file}:{number}"),
                    command: command.to_owned(),
                    code,
                    expected: Vec::new(),
                });
            } else {
                examples.last_mut().unwrap().expected.push(line);
            }
        }
    }
    examples
}

/// Separates one command's output and exit code from the next in the shell's output.
const MARK: &str = "<<flowform-docs: exit code>>";

/// Runs one file's examples in one shell in a fresh scratch project; returns, for each
/// example, its output (with the scratch directory written `[ROOT]`) and its exit code, and
/// what the shell printed after the last command it finished.
fn run(examples: &[Example]) -> (Vec<(String, i32)>, String) {
    let scratch = tempfile::tempdir().unwrap();
    let project = scratch.path().join("flowform");
    copy(&root().join("examples"), &project.join("examples"));
    std::fs::copy(root().join("flowform.toml"), project.join("flowform.toml")).unwrap();

    let mut script = String::from("exec 2>&1\n");
    for example in examples {
        script.push_str(&example.command);
        script.push_str(&format!("\nprintf '%s %s\\n' '{MARK}' \"$?\"\n"));
    }
    let bin = Path::new(env!("CARGO_BIN_EXE_flowform")).parent().unwrap();
    let output = Command::new("sh")
        .args(["-c", &script])
        .env_clear()
        .env("PATH", format!("{}:/usr/local/bin:/usr/bin:/bin", bin.display()))
        .env("HOME", scratch.path())
        .current_dir(&project)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    for dir in [scratch.path().to_owned(), scratch.path().canonicalize().unwrap()] {
        text = text.replace(&dir.display().to_string(), "[ROOT]");
    }

    let mut results = Vec::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find(MARK) {
        let printed = rest[..at].to_owned();
        let after = &rest[at + MARK.len()..];
        let end = after.find('\n').unwrap_or(after.len());
        let code = after[..end].trim().parse().unwrap_or(-1);
        results.push((printed, code));
        rest = after.get(end + 1..).unwrap_or("");
    }
    (results, rest.to_owned())
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Whether `actual` is what `expected` shows, `...` lines and `[..]` wildcards included.
fn matches(expected: &[String], actual: &[&str]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((line, rest)) if line == "..." => (0..=actual.len()).any(|skip| matches(rest, &actual[skip..])),
        Some((line, rest)) => actual
            .split_first()
            .is_some_and(|(first, tail)| line_matches(line, first) && matches(rest, tail)),
    }
}

/// Whether one line is what a pattern line shows, `[..]` matching any text. The leftmost
/// place for each piece between wildcards is as good as any, so no backtracking is needed.
fn line_matches(pattern: &str, line: &str) -> bool {
    let pieces: Vec<&str> = pattern.split("[..]").collect();
    let (first, last) = (pieces[0], pieces[pieces.len() - 1]);
    if pieces.len() == 1 {
        return pattern == line;
    }
    if line.len() < first.len() + last.len() || !line.starts_with(first) || !line.ends_with(last) {
        return false;
    }
    let mut middle = &line[first.len()..line.len() - last.len()];
    for piece in &pieces[1..pieces.len() - 1] {
        match middle.find(piece) {
            Some(at) => middle = &middle[at + piece.len()..],
            None => return false,
        }
    }
    true
}

/// The output with every line the chapter's text matches written as the chapter writes it
/// (`[..]` and `...` included), as far as they agree: a diff then shows only what differs.
fn as_the_chapter_writes(expected: &[String], actual: &[&str]) -> String {
    let mut lines: Vec<&str> = Vec::new();
    let (mut e, mut a) = (0, 0);
    while e < expected.len() && a < actual.len() {
        if expected[e] == "..." {
            let next = expected.get(e + 1);
            let resume = (a..actual.len()).find(|&k| next.is_some_and(|n| line_matches(n, actual[k])));
            lines.push("...");
            e += 1;
            a = match (next, resume) {
                (None, _) => actual.len(),
                (Some(_), Some(k)) => k,
                (Some(_), None) => break,
            };
        } else if line_matches(&expected[e], actual[a]) {
            lines.push(&expected[e]);
            (e, a) = (e + 1, a + 1);
        } else {
            break;
        }
    }
    lines.extend(&actual[a..]);
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// What went wrong with one example, as a diff of the chapter's text against the output.
fn mismatch(example: &Example, printed: &str, code: i32) -> String {
    let expected = example
        .expected
        .iter()
        .map(|l| format!("{l}\n"))
        .collect::<String>();
    let printed = as_the_chapter_writes(&example.expected, &printed.lines().collect::<Vec<_>>());
    let diff = similar::TextDiff::from_lines(&expected, &printed)
        .unified_diff()
        .header("the chapter shows", "flowform printed")
        .to_string();
    let exit = if code == example.code {
        String::new()
    } else {
        format!(" exited {code}, not {} as the chapter says, and", example.code)
    };
    format!(
        "{}: `{}`{exit} printed this (`...` and `[..]` in the chapter stand for any lines and \
         any text):\n{diff}",
        example.place, example.command
    )
}

#[test]
fn every_console_example_runs_as_written() {
    let files: Vec<(String, Vec<Example>)> = markdown_files()
        .iter()
        .map(|path| {
            let file = relative(path);
            let examples = examples(&file, &std::fs::read_to_string(path).unwrap());
            (file, examples)
        })
        .filter(|(_, examples)| !examples.is_empty())
        .collect();
    assert!(
        files.iter().any(|(file, _)| file == "README.md") && files.len() > 1,
        "the README and the book both have examples to run: {:?}",
        files.iter().map(|(f, _)| f).collect::<Vec<_>>()
    );

    let failures: Vec<String> = std::thread::scope(|scope| {
        let runs: Vec<_> = files
            .iter()
            .map(|(file, examples)| (file, examples, scope.spawn(|| run(examples))))
            .collect();
        runs.into_iter()
            .flat_map(|(file, examples, run)| {
                let (results, rest) = run.join().unwrap();
                let mut failures = Vec::new();
                for (index, example) in examples.iter().enumerate() {
                    let Some((printed, code)) = results.get(index) else {
                        failures.push(format!(
                            "{}: the shell stopped before `{}`, saying:\n{rest}",
                            example.place, example.command
                        ));
                        break;
                    };
                    let lines: Vec<&str> = printed.lines().collect();
                    if *code != example.code || !matches(&example.expected, &lines) {
                        // What follows a failed command may fail for its sake alone.
                        failures.push(mismatch(example, printed, *code));
                        break;
                    }
                }
                if failures.is_empty() {
                    eprintln!("{file}: {} examples ran as written", examples.len());
                }
                failures
            })
            .collect()
    });
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn the_wildcards_match_what_they_say() {
    let lines = |text: &str| text.lines().map(str::to_owned).collect::<Vec<_>>();
    for (expected, actual, ok) in [
        ("a\nb", "a\nb", true),
        ("a\nb", "a\nc", false),
        ("a\n...\nd", "a\nb\nc\nd", true),
        ("a\n...\nd", "a\nd", true),
        ("...", "", true),
        ("a\n...", "b", false),
        ("id = [..]", "id = 1f2e", true),
        (
            "[..] complete after [..]s [id=[..]]",
            "x: Creation complete after 2s [id=1]",
            true,
        ),
        ("a[..]b[..]b", "ab", false),
        ("a[..]", "b", false),
        ("", "", true),
        ("a", "", false),
    ] {
        let actual: Vec<&str> = actual.lines().collect();
        assert_eq!(
            matches(&lines(expected), &actual),
            ok,
            "{expected:?} against {actual:?}"
        );
    }
}

/// The `[text](target)` and `[label]: target` links of a Markdown text, outside code.
fn links(text: &str) -> Vec<String> {
    let mut links = Vec::new();
    for line in split(text).0 {
        // Inline code spans show text, not links.
        let line: String = line.split('`').step_by(2).collect::<Vec<_>>().join(" ");
        let mut rest = line.as_str();
        while let Some(at) = rest.find("](") {
            let target = &rest[at + 2..];
            let end = target.find(')').unwrap_or(target.len());
            links.push(target[..end].to_owned());
            rest = &target[end..];
        }
        if let Some(definition) = line.trim_start().strip_prefix('[')
            && let Some((_, target)) = definition.split_once("]: ")
        {
            links.push(target.trim().to_owned());
        }
    }
    links
}

/// The anchors of a Markdown file's headings, as GitHub and mdBook make them: lower case,
/// spaces as `-`, punctuation dropped, a repeated one numbered (`-1`, `-2`, …).
fn anchors(text: &str) -> Vec<String> {
    let mut anchors = Vec::new();
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for line in split(text).0 {
        let level = line.len() - line.trim_start_matches('#').len();
        if level == 0 || !line[level..].starts_with(' ') {
            continue;
        }
        let slug: String = line[level..]
            .trim()
            .to_lowercase()
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                _ => None,
            })
            .collect();
        let count = seen.entry(slug.clone()).or_default();
        anchors.push(if *count == 0 {
            slug
        } else {
            format!("{slug}-{count}")
        });
        *count += 1;
    }
    anchors
}

#[test]
fn every_relative_link_leads_to_a_file_and_heading_that_exist() {
    let mut broken = Vec::new();
    for path in markdown_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        for link in links(&text) {
            if link.contains("://") || link.starts_with("mailto:") {
                continue;
            }
            let (file, anchor) = link.split_once('#').unwrap_or((&link, ""));
            let target = if file.is_empty() {
                path.clone()
            } else {
                path.parent().unwrap().join(file)
            };
            if !target.exists() {
                broken.push(format!("{}: `{link}`: no such file", relative(&path)));
            } else if !anchor.is_empty() {
                let headings = anchors(&std::fs::read_to_string(&target).unwrap());
                if !headings.iter().any(|h| h == anchor) {
                    broken.push(format!(
                        "{}: `{link}`: no heading with that anchor (it has {headings:?})",
                        relative(&path)
                    ));
                }
            }
        }
    }
    assert!(broken.is_empty(), "\n{}", broken.join("\n"));
}

#[test]
fn every_chapter_is_in_the_summary_and_the_readmes_contents() {
    let summary = std::fs::read_to_string(root().join("docs/SUMMARY.md")).unwrap();
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let listed = links(&summary);
    let linked = links(&readme);
    for path in markdown_files().iter().skip(1) {
        let chapter = path.file_name().unwrap().to_string_lossy().into_owned();
        if chapter == "SUMMARY.md" {
            continue;
        }
        assert!(
            listed.contains(&chapter),
            "docs/SUMMARY.md does not list `{chapter}`"
        );
        assert!(
            linked
                .iter()
                .any(|l| l.split('#').next() == Some(&format!("docs/{chapter}"))),
            "the README's contents do not link to `docs/{chapter}`"
        );
    }
}

#[test]
fn the_readme_stays_the_front_door() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(
        lines <= 300,
        "README.md has {lines} lines: the reference belongs in docs/"
    );
}

/// The emulator chapter's fault settings body is what the emulator takes, as the README's is
/// (`emulator::the_readmes_fault_settings_are_accepted_as_written`).
#[tokio::test]
async fn the_emulator_chapters_fault_settings_are_accepted_as_written() {
    let chapter = std::fs::read_to_string(root().join("docs/emulator.md")).unwrap();
    let start = chapter
        .find("__emulator/faults -H 'content-type: application/json' -d '")
        .expect("the emulator chapter shows a PUT of the fault settings");
    let body_start = chapter[start..].find("-d '").unwrap() + start + 4;
    let body_len = chapter[body_start..].find('\'').unwrap();
    let body: serde_json::Value = serde_json::from_str(&chapter[body_start..body_start + body_len]).unwrap();
    let emulator = flowform_emulator::Emulator::start(flowform_emulator::Options::default())
        .await
        .unwrap();
    let http = crate::common::http();
    let url = format!("{}/__emulator/faults", emulator.base_url());
    let put = http.put(&url).json(&body).send().await.unwrap();
    assert!(put.status().is_success(), "{}", put.text().await.unwrap());
    let now: serde_json::Value = http.get(&url).send().await.unwrap().json().await.unwrap();
    for (field, value) in body.as_object().unwrap() {
        assert_eq!(&now[field], value, "{field}");
    }
}

/// Every field of every kind but the base connection's (whose fields Configuration
/// documents) has a row in the chapter on source and target connections.
#[test]
fn every_kinds_field_is_in_its_chapter() {
    // Each kind but the base connection has a chapter section headed `… (`section:`)`,
    // whose table has a row for each of its fields.
    let chapters: Vec<String> = ["docs/resources.md", "docs/flows.md"]
        .iter()
        .map(|p| std::fs::read_to_string(root().join(p)).unwrap())
        .collect();
    for kind in flowform::kind::ALL.iter().filter(|k| !k.is_default()) {
        let heading = format!("(`{}:`)", kind.section);
        let chapter = chapters
            .iter()
            .find(|c| c.lines().any(|l| l.starts_with("## ") && l.ends_with(&heading)))
            .unwrap_or_else(|| panic!("a `## … {heading}` section in docs/resources.md or docs/flows.md"));
        let plural = format!("{}s", kind.noun);
        assert!(
            chapter.to_lowercase().contains(&format!("## {plural} ({}", "`")),
            "the section of {plural} is headed by their name"
        );
        for field in kind.fields {
            let top = field.path.split('.').next().unwrap();
            let by_key = match field.ty {
                flowform::kind::Type::Ref { by_key, .. } => by_key,
                _ => top,
            };
            let row = |name: &str| chapter.contains(&format!("| `{name}` |"));
            assert!(
                row(field.path) || row(top) || row(by_key),
                "the chapter documents `{}` of {}s",
                field.path,
                kind.noun
            );
        }
    }
}
