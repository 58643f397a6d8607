//! Pictures: a scenario's timeline (the HTML report) and line charts (the
//! benchmark report), over one markup writer and one set of scales.

mod chart;
mod markup;
mod scale;
mod timeline;

pub use chart::{LineChart, Series};
pub use markup::{Node, Px};
pub use scale::{Linear, Log};
pub use timeline::{Detail, Outline, Timeline, Window};
