//! Printing a report, and writing its HTML page.

use anyhow::{Context, Result};
use leasecheck::model::recording::Section;
use leasecheck::report::Report;
use std::path::Path;

/// Write the HTML report of `report` into `dir`, and name it in `report`.
pub fn write(dir: &Path, report: &mut Report, sections: &[Section]) -> Result<()> {
    let path = leasecheck::report::write_page(dir, report, sections)
        .with_context(|| format!("cannot write the HTML report to {}", dir.display()))?;
    report.report_page = Some(path.display().to_string());
    Ok(())
}

/// Print `report` as text, or as JSON.
pub fn print(report: &Report, json: bool) {
    if json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.render_text());
    }
}
