-- Which scorer serves a score: a trained model, or the calibrated weighted open count where no model beat it.

ALTER TABLE models ADD COLUMN scorer text NOT NULL DEFAULT 'model' CHECK (scorer IN ('model', 'baseline'));
-- Per score kind, the scorer that produced a stored score ({"overall": "model", "safety": "baseline", ...}).
ALTER TABLE risk_scores ADD COLUMN scorers jsonb NOT NULL DEFAULT '{}'::jsonb;
