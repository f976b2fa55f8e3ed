//! `rapport text …`: the text analytics on stdin, one text per line, one JSON object per line out,
//! in the same order. No database: these read only the compiled-in lexicons and taxonomy.

use std::io::{BufRead, BufWriter, Write};

use std::path::Path;

use rapport_text::feedback::{round4, sentence_json, topic_json};
use rapport_text::sentiment::{Analyzer, Thresholds};
use rapport_text::topics::{Taxonomy, Topics};

pub fn sentiment(sentences: bool, thresholds: Thresholds) -> anyhow::Result<()> {
    let analyzer = Analyzer::new(thresholds);
    each_line(|text, out| {
        let value = if sentences {
            let analysis = analyzer.analyse(text);
            let sentences: Vec<_> = analysis.sentences.iter().map(|s| sentence_json(s, None)).collect();
            serde_json::json!({"score": round4(analysis.score), "label": analysis.label, "sentences": sentences})
        } else {
            let sentiment = analyzer.score(text);
            serde_json::json!({"score": round4(sentiment.score), "label": sentiment.label})
        };
        serde_json::to_writer(&mut *out, &value)?;
        Ok(())
    })
}

/// Topics of each line: `{"topics": [{"topic", "score", "label", "mentions", "sentences"}]}`,
/// from the default taxonomy or a taxonomy file (the JSON `PUT /v1/feedback/taxonomy` takes).
pub fn topics(taxonomy: Option<&Path>, thresholds: Thresholds) -> anyhow::Result<()> {
    let taxonomy = match taxonomy {
        None => Taxonomy::default_for_customer_experience(),
        Some(path) => {
            let content = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            serde_json::from_str(&content).map_err(|e| anyhow::anyhow!("{}: not a taxonomy: {e}", path.display()))?
        }
    };
    let topics = Topics::compile(&taxonomy, thresholds).map_err(|problems| {
        let listed: Vec<String> = problems.iter().map(|p| format!("{}: {}", p.field, p.problem)).collect();
        anyhow::anyhow!("the taxonomy has problems:\n  {}", listed.join("\n  "))
    })?;
    let analyzer = Analyzer::new(thresholds);
    each_line(|text, out| {
        let analysis = analyzer.analyse(text);
        let hits: Vec<_> = topics.find(text, &analysis.sentences).iter().map(topic_json).collect();
        serde_json::to_writer(&mut *out, &serde_json::json!({"topics": hits}))?;
        Ok(())
    })
}

/// Calls `f` for each line of stdin (without its line end) and ends each output with a newline.
fn each_line(mut f: impl FnMut(&str, &mut dyn Write) -> anyhow::Result<()>) -> anyhow::Result<()> {
    let stdin = std::io::stdin().lock();
    let mut out = BufWriter::new(std::io::stdout().lock());
    for (number, line) in stdin.lines().enumerate() {
        let line = line.map_err(|e| anyhow::anyhow!("stdin line {}: {e}", number + 1))?;
        f(&line, &mut out)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

pub fn thresholds(negative: f64, positive: f64) -> anyhow::Result<Thresholds> {
    if !(-1.0..=0.0).contains(&negative) || !(0.0..=1.0).contains(&positive) {
        anyhow::bail!("--negative-below must be in -1..0 and --positive-above in 0..1 (got {negative} and {positive})");
    }
    Ok(Thresholds { negative, positive })
}
