//! Text suite: Rapport's sentiment against vaderSentiment (Python) on the human-rated ground truth
//! in `../shared/data/sentiment/`, in one run: agreement with the human mean (Pearson r, 3-class
//! accuracy, both computed by the peer's own scorer) and throughput on one core.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use rapport_text::feedback::{self, FeedbackInput, TextContext};
use rapport_text::redact::PiiKind;
use rapport_text::sentiment::{Analyzer, Thresholds};
use rapport_text::topics::{Taxonomy, Topics};

pub struct TextArgs {
    pub data: PathBuf,
    pub peers: PathBuf,
    pub python: String,
    pub rounds: usize,
}

struct GroundTruth {
    name: String,
    path: PathBuf,
    texts: Vec<String>,
}

fn load(path: &Path) -> anyhow::Result<GroundTruth> {
    let content = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    let texts = content
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.splitn(3, '\t').nth(2).map(str::to_owned))
        .collect::<Option<Vec<_>>>()
        .with_context(|| format!("{}: a line without id, rating and text", path.display()))?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("?").replace("_GroundTruth.txt", "");
    Ok(GroundTruth { name, path: path.to_owned(), texts })
}

/// Runs the peer script and returns its stdout.
fn peer(args: &TextArgs, script_args: &[&str]) -> anyhow::Result<String> {
    crate::run_peer(&args.python, &args.peers, "sentiment.py", script_args)
}

/// `r=0.872\tacc3=0.808` from a line of the peer's output for `path`.
fn agreement(output: &str, path: &Path) -> anyhow::Result<(String, String)> {
    let line = output
        .lines()
        .find(|line| line.starts_with(&*path.to_string_lossy()))
        .with_context(|| format!("no result for {} in: {output}", path.display()))?;
    let field =
        |key: &str| line.split('\t').find_map(|f| f.strip_prefix(key)).map(str::to_owned).context("peer output format");
    Ok((field("r=")?, field("acc3=")?))
}

pub fn measure(args: &TextArgs) -> anyhow::Result<(String, String)> {
    let sets = ["tweets_GroundTruth.txt", "movieReviewSnippets_GroundTruth.txt"]
        .iter()
        .map(|file| load(&args.data.join(file)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let analyzer = Analyzer::default();
    let scratch = tempfile::tempdir()?;

    // Agreement: both systems' scores through the peer's scorer.
    let paths: Vec<String> = sets.iter().map(|set| set.path.to_string_lossy().into_owned()).collect();
    let mut vader_args = vec!["vader"];
    vader_args.extend(paths.iter().map(String::as_str));
    let vader_output = peer(args, &vader_args)?;
    let mut accuracy = String::new();
    for set in &sets {
        let scores_path = scratch.path().join(format!("{}.jsonl", set.name));
        let lines: String =
            set.texts.iter().map(|text| format!("{{\"score\":{}}}\n", analyzer.score(text).score)).collect();
        std::fs::write(&scores_path, lines)?;
        let ours = peer(args, &["score", &set.path.to_string_lossy(), "--scores", &scores_path.to_string_lossy()])?;
        let (vader_r, vader_acc) = agreement(&vader_output, &set.path)?;
        let (r, acc) = agreement(&ours, &set.path)?;
        accuracy.push_str(&format!("| {} | {} | {r} | {vader_r} | {acc} | {vader_acc} |\n", set.name, set.texts.len()));
    }

    // Throughput on one core: every text of both sets, scored one at a time, a few rounds; the
    // texts' sentences are counted by Rapport's splitter.
    let texts: Vec<&str> = sets.iter().flat_map(|set| set.texts.iter().map(String::as_str)).collect();
    let sentences: usize = texts.iter().map(|text| analyzer.analyse(text).sentences.len()).sum();
    let rate = |f: &dyn Fn(&str) -> f64| {
        let rates = (0..args.rounds)
            .map(|_| {
                let start = Instant::now();
                let checksum: f64 = texts.iter().map(|text| f(text)).sum();
                std::hint::black_box(checksum);
                texts.len() as f64 / start.elapsed().as_secs_f64()
            })
            .collect();
        crate::median(rates)
    };
    let scored = rate(&|text| analyzer.score(text).score);
    let analysed = rate(&|text| analyzer.analyse(text).sentences.len() as f64);
    // What ingestion does to each feedback item: redaction, language, sentiment, topics.
    let context = TextContext {
        analyzer,
        topics: Topics::compile(&Taxonomy::default_for_customer_experience(), Thresholds::default())
            .map_err(|problems| anyhow::anyhow!("the default taxonomy: {problems:?}"))?,
        redact: PiiKind::ALL.to_vec(),
    };
    let received = time::OffsetDateTime::now_utc();
    let inputs: Vec<FeedbackInput> = texts
        .iter()
        .map(|text| {
            let item = serde_json::json!({"source": "bench", "text": text});
            feedback::parse_item(&item, 0, received).map_err(|problems| anyhow::anyhow!("{problems:?}"))
        })
        .collect::<anyhow::Result<_>>()?;
    let items = {
        let rates = (0..args.rounds)
            .map(|_| {
                let start = Instant::now();
                let topics: usize = inputs.iter().map(|input| feedback::analyse(&context, input).topics.len()).sum();
                std::hint::black_box(topics);
                inputs.len() as f64 / start.elapsed().as_secs_f64()
            })
            .collect();
        crate::median(rates)
    };
    let vader = vader_output
        .lines()
        .find_map(|line| line.strip_prefix("vaderSentiment throughput: "))
        .and_then(|rest| rest.split_whitespace().next())
        .map(|n| n.replace(',', ""))
        .and_then(|n| n.parse::<f64>().ok())
        .context("the peer printed no throughput")?;
    let per_text = sentences as f64 / texts.len() as f64;
    let throughput = format!(
        "| score per text (the peer's unit) | {scored:.0} | {:.0} | {vader:.0} | {:.1}× |\n\
         | score per text and per sentence, with offsets | {analysed:.0} | {:.0} | | {:.1}× |\n\
         | a feedback item's whole analysis: redaction, language, sentiment, topics (default taxonomy) | {items:.0} | {:.0} | | {:.1}× |\n",
        scored * per_text,
        scored / vader,
        analysed * per_text,
        analysed / vader,
        items * per_text,
        items / vader,
    );
    let throughput = format!(
        "{} texts, {sentences} sentences by Rapport's splitter.\n\n\
         | one core | Rapport texts/s | Rapport sentences/s | vaderSentiment texts/s | Rapport ÷ vaderSentiment (texts/s) |\n\
         |---|---|---|---|---|\n{throughput}",
        texts.len()
    );
    Ok((accuracy, throughput))
}
