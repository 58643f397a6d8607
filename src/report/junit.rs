//! The report as JUnit XML for CI systems, written by the `quick-junit`
//! crate: one test case per scenario, a failure per violation (with its
//! timeline, the seed and the replay command), `skipped` for a scenario that
//! does not apply, `error` for one that could not run.

use super::{Report, Status};
use quick_junit::{NonSuccessKind, Property, TestCase, TestCaseStatus, TestSuite};

impl Report {
    /// The report as a JUnit XML document.
    pub fn to_junit(&self) -> String {
        let mut suite = TestSuite::new(format!("leasecheck: {}", self.subject));
        suite.add_property(Property::new("seed", self.seed.to_string()));
        suite.add_property(Property::new("replay", self.replay.clone()));
        if let Some(page) = &self.report_page {
            suite.add_property(Property::new("report", page.clone()));
        }
        for (i, s) in self.scenarios.iter().enumerate() {
            let status = match &s.status {
                Status::Passed => TestCaseStatus::success(),
                Status::Violated => {
                    let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    let messages: Vec<String> = s
                        .findings
                        .iter()
                        .map(|f| format!("{}: {}", f.property, f.message))
                        .collect();
                    status.set_message(messages.join("; "));
                    let details: Vec<String> = s
                        .findings
                        .iter()
                        .map(|f| format!("{}: {}\n{}", f.property, f.message, f.timeline))
                        .collect();
                    let mut description = format!(
                        "{}\nseed: {}\nreplay: {}",
                        details.join("\n"),
                        self.seed,
                        self.replay
                    );
                    if let Some(page) = &self.report_page {
                        description.push_str(&format!("\ntimeline: {page}#{}", super::anchor(i)));
                    }
                    status.set_description(description);
                    status
                }
                Status::NotApplicable(why) => {
                    let mut status = TestCaseStatus::skipped();
                    status.set_message(why.clone());
                    status
                }
                Status::Error(why) => {
                    let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
                    status.set_message(why.clone());
                    status
                }
                Status::Interrupted => {
                    let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
                    status.set_message("interrupted");
                    status
                }
            };
            let mut case = TestCase::new(s.name.clone(), status);
            case.set_classname("leasecheck").set_time(s.duration);
            suite.add_test_case(case);
        }
        let mut report = quick_junit::Report::new("leasecheck");
        report.add_test_suite(suite);
        match report.to_string() {
            Ok(xml) => xml,
            Err(e) => unreachable!("a JUnit report of plain strings always serialises: {e}"),
        }
    }
}
