"""Everything that touches files and codecs: stills, narration, the MP4 encoder."""
