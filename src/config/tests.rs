//! Pipeline-file parsing and validation.
use super::*;

const MINIMAL: &str = "[source]\ninput = \"a.avi\"\n[model]\nmodel = \"pedestrian-ssdlite\"\n";

#[test]
fn minimal_file_gets_defaults() {
    let c = PipelineConfig::parse(MINIMAL, Path::new("p.toml")).unwrap();
    assert_eq!(c.model.device, "CPU");
    assert_eq!(c.model.hint, Hint::Throughput);
    assert_eq!(c.detect.threshold, DEFAULT_THRESHOLD);
    assert!(c.model.cache);
    assert!(c.output.mp4.is_none());
}

#[test]
fn unknown_key_names_file_line_and_key() {
    let text = format!("{MINIMAL}treshold = 0.3\n");
    let err = PipelineConfig::parse(&text, Path::new("pipelines/x.toml")).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("pipelines/x.toml"), "{msg}");
    assert!(msg.contains("line 5"), "{msg}");
    assert!(msg.contains("treshold"), "{msg}");
}

#[test]
fn sources_tables_replace_the_single_input() {
    let text = "[source]\nloop = true\n[[sources]]\ninput = \"a/vtest.avi\"\n\
                [[sources]]\nname = \"door\"\ninput = \"rtsp://cam/1\"\n\
                [[sources]]\ninput = \"b/vtest.avi\"\n\
                [model]\nmodel = \"pedestrian-ssdlite\"\n";
    let c = PipelineConfig::parse(text, Path::new("p.toml")).unwrap();
    assert!(c.source.looping, "[source] settings apply to every source");
    let names: Vec<_> = c
        .streams()
        .unwrap()
        .into_iter()
        .map(|s| s.name.unwrap())
        .collect();
    assert_eq!(names, ["vtest", "door", "vtest-2"]);
    assert_eq!(c.first_input(), "a/vtest.avi");
    let both = format!("{MINIMAL}[[sources]]\ninput = \"b.avi\"\n");
    let err = PipelineConfig::parse(&both, Path::new("p.toml")).unwrap_err();
    assert!(err.to_string().contains("not both"), "{err}");
    let none = "[model]\nmodel = \"pedestrian-ssdlite\"\n";
    let err = PipelineConfig::parse(none, Path::new("p.toml")).unwrap_err();
    assert!(err.to_string().contains("no input"), "{err}");
    let mut c = PipelineConfig::parse(MINIMAL, Path::new("p.toml")).unwrap();
    c.set_inputs(&["x.mp4".into(), "x.mp4".into()]);
    assert_eq!(c.streams().unwrap()[1].name.as_deref(), Some("x-2"));
    c.model.batch = 0;
    assert!(c.validate(Path::new("cli")).is_err());
}

#[test]
fn a_source_s_own_analytics_replace_the_top_level_ones() {
    let text = "[[sources]]\nname = \"door\"\ninput = \"a.avi\"\n\
                [[sources.analytics.lines]]\nname = \"sill\"\npoints = [[0.5, 0.0], [0.5, 1.0]]\n\
                [[sources]]\nname = \"yard\"\ninput = \"b.avi\"\n\
                [model]\nmodel = \"pedestrian-ssdlite\"\n\
                [[analytics.zones]]\nname = \"lawn\"\npolygon = [[0, 0], [1, 0], [1, 1]]\n";
    let c = PipelineConfig::parse(text, Path::new("p.toml")).unwrap();
    let door = c.analytics_for("door").unwrap();
    assert_eq!((door.zones.len(), door.lines[0].name.as_str()), (0, "sill"));
    let yard = c.analytics_for("yard").unwrap();
    assert_eq!((yard.zones[0].name.as_str(), yard.lines.len()), ("lawn", 0));
    let mut off = c.clone();
    off.track.enabled = false;
    let err = off.validate(Path::new("p.toml")).unwrap_err().to_string();
    assert!(err.contains("track ids"), "{err}");
    let bad = text.replace("[0.5, 1.0]", "[0.5, 0.0]");
    let err = PipelineConfig::parse(&bad, Path::new("p.toml"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("line `sill`: zero-length"), "{err}");
}

#[test]
fn out_of_range_threshold_is_rejected() {
    let text = format!("{MINIMAL}[detect]\nthreshold = 1.5\n");
    let err = PipelineConfig::parse(&text, Path::new("p.toml")).unwrap_err();
    assert!(err.to_string().contains("detect.threshold"));
}

#[test]
fn a_record_input_needs_copied_recordings_and_a_live_input() {
    let model = "[model]\nmodel = \"pedestrian-ssdlite\"\n";
    let parse = |text: String| PipelineConfig::parse(&text, Path::new("p.toml"));
    let sub = "[source]\ninput = \"rtsp://cam/sub\"\nrecord_input = \"rtsp://cam/main\"\n";
    let ok = parse(format!("{sub}{model}[record]\ndir = \"clips\"\n")).unwrap();
    let stream = &ok.streams().unwrap()[0];
    assert_eq!(stream.record_input.as_deref(), Some("rtsp://cam/main"));
    let err = parse(format!("{sub}{model}")).unwrap_err().to_string();
    assert!(err.contains("record_input needs recordings"), "{err}");
    let err = parse(format!(
        "{sub}{model}[record]\ndir = \"clips\"\nannotated = true\n"
    ))
    .unwrap_err()
    .to_string();
    assert!(err.contains("choose one"), "{err}");
    let file = sub.replace("rtsp://cam/sub", "a.avi");
    let err = parse(format!("{file}{model}[record]\ndir = \"clips\"\n"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("record_input needs a live input"), "{err}");
    parse(format!(
        "{file}realtime = true\n{model}[record]\ndir = \"clips\"\n"
    ))
    .unwrap();
    // Per source, with the source's own [sources.record]; `--input` drops the file's.
    let many = "[[sources]]\nname = \"door\"\ninput = \"rtsp://cam/sub\"\n\
                record_input = \"rtsp://cam/main\"\n[sources.record]\ndir = \"clips\"\n\
                [[sources]]\nname = \"yard\"\ninput = \"rtsp://yard/sub\"\n\
                record_input = \"rtsp://yard/main\"\n";
    let err = parse(format!("{many}{model}")).unwrap_err().to_string();
    assert!(err.contains("yard: record_input needs recordings"), "{err}");
    let mut ok = parse(format!("{sub}{model}[record]\ndir = \"clips\"\n")).unwrap();
    ok.set_inputs(&["rtsp://other/sub".into()]);
    assert_eq!(ok.streams().unwrap()[0].record_input, None);
}
