"""The crowd round trip: batches out to Mechanical Turk or Label Studio, answers back,
aggregated with crowd-kit, and the expert's decisions; ingest applies what they decide.

    export_batch(...)                 # -> labels/batches/<batch>/ (mturk_input.csv, ...)
    import_answers(file, paths, ...)  # -> labels/crowd.csv, answers.csv, workers.csv
    apply_decisions(file, paths, ...) # -> labels/expert.csv
"""
