"""The sound track: narration placement, gaps, fades, music and loudness."""
