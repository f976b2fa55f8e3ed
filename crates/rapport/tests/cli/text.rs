//! `rapport text …`: one text per stdin line in, one JSON object per line out, in order.

use std::io::Write;
use std::process::Stdio;

use serde_json::Value;

use crate::process::{rapport, stderr};

/// Runs `rapport text <args>` with `input` on stdin and returns its stdout lines as JSON.
pub fn text_command(args: &[&str], input: &str) -> Vec<Value> {
    let directory = tempfile::tempdir().unwrap();
    let mut child = rapport(directory.path())
        .arg("text")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    String::from_utf8(output.stdout).unwrap().lines().map(|line| serde_json::from_str(line).unwrap()).collect()
}

#[test]
fn text_sentiment_writes_one_object_per_line_in_order() {
    let input = "The book was good.\n\nToday SUX!\nThe parcel came on Tuesday\n";
    let lines = text_command(&["sentiment"], input);
    assert_eq!(lines.len(), 4, "one line out per line in, blank lines included: {lines:?}");
    assert_eq!(lines[0], serde_json::json!({"score": 0.4404, "label": "positive"}));
    assert_eq!(lines[1], serde_json::json!({"score": 0.0, "label": "neutral"}));
    assert_eq!(lines[2], serde_json::json!({"score": -0.5461, "label": "negative"}));
    assert_eq!(lines[3]["label"], "neutral");
}

#[test]
fn text_sentiment_gives_sentences_with_offsets_and_takes_thresholds() {
    let text = "Great app! Login is broken.";
    let lines = text_command(&["sentiment", "--sentences"], &format!("{text}\n"));
    let sentences = lines[0]["sentences"].as_array().unwrap();
    let spans: Vec<&str> = sentences
        .iter()
        .map(|s| &text[s["start"].as_u64().unwrap() as usize..s["end"].as_u64().unwrap() as usize])
        .collect();
    assert_eq!(spans, ["Great app!", "Login is broken."]);
    assert_eq!(sentences[0]["label"], "positive");
    assert_eq!(sentences[1]["label"], "negative");
    let strict = text_command(&["sentiment", "--positive-above", "0.9"], "The book was good.\n");
    assert_eq!(strict[0]["label"], "neutral");
}

#[test]
fn text_topics_finds_the_default_taxonomy_or_a_given_one() {
    let text = "Love the shoes. My parcel arrived late and the box was crushed!";
    let lines = text_command(&["topics"], &format!("{text}\nnothing to see\n"));
    assert_eq!(lines.len(), 2);
    let topics: Vec<&str> =
        lines[0]["topics"].as_array().unwrap().iter().map(|t| t["topic"].as_str().unwrap()).collect();
    assert_eq!(topics, ["delivery", "late-delivery", "damaged-in-transit"]);
    let delivery = &lines[0]["topics"][0];
    assert_eq!(delivery["label"], "negative", "the topic's sentence is negative, the first sentence is not");
    let mention = &delivery["mentions"][0];
    assert_eq!(&text[mention["start"].as_u64().unwrap() as usize..mention["end"].as_u64().unwrap() as usize], "parcel");
    assert_eq!(lines[1], serde_json::json!({"topics": []}));

    let directory = tempfile::tempdir().unwrap();
    let file = directory.path().join("taxonomy.json");
    std::fs::write(&file, r#"{"topics": [{"id": "shoes", "name": "Shoes", "query": "shoe*"}]}"#).unwrap();
    let lines = text_command(&["topics", "--taxonomy", file.to_str().unwrap()], &format!("{text}\n"));
    assert_eq!(lines[0]["topics"][0]["topic"], "shoes");
    assert_eq!(lines[0]["topics"][0]["label"], "positive");

    std::fs::write(&file, r#"{"topics": [{"id": "shoes", "name": "Shoes", "query": "(shoe*"}]}"#).unwrap();
    let output =
        rapport(directory.path()).args(["text", "topics", "--taxonomy", file.to_str().unwrap()]).output().unwrap();
    assert!(!output.status.success());
    assert!(stderr(&output).contains("topics[0].query: expected `)` at the end"), "{}", stderr(&output));
}

/// `rapport import feedback`: bad rows named by line and column, nothing imported unless asked to
/// skip them; a second run adds nothing; the example files import.
#[test]
fn import_feedback_reports_bad_rows_and_is_idempotent() {
    let directory = tempfile::tempdir().unwrap();
    let keys =
        rapport(directory.path()).args(["keys", "create", "--workspace", "shop", "--role", "admin"]).output().unwrap();
    assert!(keys.status.success(), "{}", stderr(&keys));
    let file = directory.path().join("feedback.csv");
    std::fs::write(
        &file,
        "source,text,occurred_at,rating\n\
         widget,The checkout is lovely,2026-11-01T10:00:00Z,\n\
         ,Nobody answers,2026-11-01T11:00:00Z,\n\
         widget,Late again,last week,\n\
         trustpilot,Five stars,,9\n",
    )
    .unwrap();
    let import = |path: &std::path::Path, extra: &[&str]| {
        rapport(directory.path())
            .args(["import", "feedback"])
            .arg(path)
            .args(["--workspace", "shop"])
            .args(extra)
            .output()
            .unwrap()
    };
    let refused = import(&file, &[]);
    assert!(!refused.status.success());
    let report = stderr(&refused);
    assert!(report.contains("line 3: source: required"), "{report}");
    assert!(report.contains("line 4: occurred_at: `last week` is not an RFC 3339 date-time"), "{report}");
    assert!(report.contains("nothing was imported"), "{report}");
    let skipped = import(&file, &["--skip-bad-rows"]);
    assert!(skipped.status.success(), "{}", stderr(&skipped));
    assert_eq!(crate::process::stdout(&skipped).trim(), "2");
    assert_eq!(crate::process::stdout(&import(&file, &["--skip-bad-rows"])).trim(), "0", "a second run adds nothing");

    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/import");
    for (name, added) in [("feedback.csv", "4"), ("feedback.jsonl", "3")] {
        let output = import(&examples.join(name), &[]);
        assert!(output.status.success(), "{name}: {}", stderr(&output));
        assert_eq!(crate::process::stdout(&output).trim(), added, "{name}");
    }
}
