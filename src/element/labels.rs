//! The `ovstream-labels` query: a downstream element asks the detector upstream for the class
//! names its boxes can carry (a custom query, answered by `ovdetect` once its model is loaded
//! and passed upstream by the elements between), so `ovanalytics` refuses a zone or line
//! class the model lacks at caps time, as `ovstream run` does before it starts.

use gstreamer as gst;
use gstreamer::prelude::*;

/// The custom query's structure name.
pub const QUERY: &str = "ovstream-labels";
/// Its field: the labels, a `GstArray` of strings in label-id order.
const FIELD: &str = "labels";

/// Asks upstream of `sinkpad` for the detector's labels; `None` when no element answers (no
/// `ovdetect` upstream, or its model is not loaded).
pub fn ask(sinkpad: &gst::Pad) -> Option<Vec<String>> {
    let mut query = gst::query::Custom::new(gst::Structure::new_empty(QUERY));
    if !sinkpad.peer_query(&mut query) {
        return None;
    }
    let array = query.structure()?.get::<gst::Array>(FIELD).ok()?;
    Some(
        array
            .iter()
            .filter_map(|v| v.get::<String>().ok())
            .collect(),
    )
}

/// Whether `query` is an `ovstream-labels` query.
pub fn asks(query: &gst::QueryRef) -> bool {
    matches!(query.view(), gst::QueryView::Custom(c) if c.structure().is_some_and(|s| s.has_name(QUERY)))
}

/// Answers an `ovstream-labels` query (see [`asks`]) with `labels`.
pub fn answer(query: &mut gst::QueryRef, labels: &[impl AsRef<str>]) {
    if let gst::QueryViewMut::Custom(custom) = query.view_mut() {
        let array = gst::Array::new(labels.iter().map(|l| l.as_ref().to_send_value()));
        custom.structure_mut().set(FIELD, array);
    }
}
