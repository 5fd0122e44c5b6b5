//! The hub's fan-out: MP4 viewers from a keyframe, skipping and eviction, MJPEG pacing.

use super::*;

fn chunk(b: &'static [u8]) -> Chunk {
    Chunk {
        bytes: Bytes::from_static(b),
        first_frame: None,
    }
}

#[test]
fn a_viewer_gets_the_init_then_fragments_from_a_keyframe() {
    let live = Live::new("cam", LiveOptions::default());
    let mut rx = live.join_mp4(Track::Annotated).unwrap();
    assert!(live.watched());
    live.publish_init(Track::Annotated, b"init".to_vec());
    live.publish_fragment(Track::Annotated, chunk(b"delta"), false);
    live.publish_fragment(Track::Annotated, chunk(b"key"), true);
    live.publish_fragment(Track::Annotated, chunk(b"delta2"), false);
    let got: Vec<Bytes> = std::iter::from_fn(|| rx.try_recv().ok().map(|c| c.bytes)).collect();
    assert_eq!(
        got,
        ["init", "key", "delta2"].map(|s| Bytes::from_static(s.as_bytes()))
    );
}

#[test]
fn a_full_queue_skips_to_the_next_keyframe_and_a_stalled_viewer_is_dropped() {
    let options = LiveOptions {
        max_viewers: 2,
        viewer_timeout: Duration::from_millis(50),
    };
    let live = Live::new("cam", options);
    let mut rx = live.join_mp4(Track::Annotated).unwrap();
    let _stalled = live.join_mp4(Track::Annotated).unwrap();
    assert!(matches!(live.join_mjpeg(5.0, None), Err(Full(2))));
    live.publish_init(Track::Annotated, b"init".to_vec());
    live.publish_fragment(Track::Annotated, chunk(b"key"), true);
    for _ in 0..MP4_QUEUE {
        live.publish_fragment(Track::Annotated, chunk(b"delta"), false);
    }
    assert!(live.stats.drops.load(Ordering::Relaxed) >= 2);
    // The reader catches up: it resumes at a keyframe, not at the next delta.
    while rx.try_recv().is_ok() {}
    live.publish_fragment(Track::Annotated, chunk(b"delta"), false);
    assert!(rx.try_recv().is_err());
    live.publish_fragment(Track::Annotated, chunk(b"key2"), true);
    assert_eq!(rx.try_recv().unwrap().bytes, "key2");
    std::thread::sleep(Duration::from_millis(60));
    live.publish_fragment(Track::Annotated, chunk(b"key3"), true);
    assert_eq!(live.stats.viewers(Kind::Mp4), 1, "the stalled one is gone");
    assert_eq!(live.stats.evicted.load(Ordering::Relaxed), 1);
}

#[test]
fn mjpeg_viewers_get_pictures_at_their_own_pace() {
    let live = Live::new("cam", LiveOptions::default());
    let mut fast = live.join_mjpeg(30.0, None).unwrap();
    let mut slow = live.join_mjpeg(0.5, Some(320)).unwrap();
    let wanted = live.wanted(Instant::now());
    assert_eq!(wanted.jpeg_widths, vec![None, Some(320)]);
    live.publish_jpeg(None, chunk(b"a"));
    live.publish_jpeg(Some(320), chunk(b"b"));
    assert_eq!(fast.try_recv().unwrap().bytes, "a");
    assert_eq!(slow.try_recv().unwrap().bytes, "b");
    std::thread::sleep(Duration::from_millis(40));
    assert_eq!(live.wanted(Instant::now()).jpeg_widths, vec![None]);
    drop(fast);
    assert!(live.wanted(Instant::now()).jpeg_widths.is_empty());
    assert_eq!(live.stats.viewers(Kind::Mjpeg), 1);
}
