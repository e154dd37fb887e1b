-- Views for the questions analysts ask most (docs/sql-cookbook.md has more). Views over tables not fed
-- yet (trend_signals, virality_scores, video_features, brand_alerts) return nothing until they are.
-- Window tables are ReplacingMergeTree(revision): the views read the latest revision with argMax or
-- FINAL, so a late correction replaces the first result and a replayed duplicate never counts twice.
-- Aggregates are aliased with new names: ClickHouse resolves an alias equal to a column name inside
-- the aggregate itself.

-- Hashtag uses per minute, latest revision of each window.
CREATE VIEW IF NOT EXISTS hashtag_uses_1m_latest AS
SELECT hashtag, window_start, window_end, argMax(count, revision) AS uses, max(revision) AS last_revision
FROM hashtag_uses_1m
GROUP BY hashtag, window_start, window_end;

-- Hashtag engagement per 10-minute window (sliding by a minute), latest revision of each window.
CREATE VIEW IF NOT EXISTS hashtag_engagement_10m_latest AS
SELECT hashtag, window_start, window_end, argMax(count, revision) AS engagements, max(revision) AS last_revision
FROM hashtag_engagement_10m
GROUP BY hashtag, window_start, window_end;

-- Most used hashtags over the minutes that ended in the last hour.
CREATE VIEW IF NOT EXISTS top_hashtags_last_hour AS
SELECT hashtag, sum(uses) AS uses_last_hour, count() AS active_minutes
FROM hashtag_uses_1m_latest
WHERE window_end > now64(3) - INTERVAL 1 HOUR AND window_end <= now64(3)
GROUP BY hashtag
ORDER BY uses_last_hour DESC, hashtag
LIMIT 50;

-- A hashtag's minute-by-minute history: SELECT * FROM hashtag_history(tag = 'dance').
CREATE VIEW IF NOT EXISTS hashtag_history AS
SELECT window_start, window_end, uses, last_revision
FROM hashtag_uses_1m_latest
WHERE hashtag = {tag:String}
ORDER BY window_start;

-- Top emerging trends of the last hour, per platform: each entity's latest window that ended in the
-- last hour, kept when that window's stage is 'emerging', best score first, 10 per platform.
CREATE VIEW IF NOT EXISTS top_emerging_trends_1h AS
SELECT
    platform, entity_type, entity,
    argMax(score, window_start)     AS latest_score,
    argMax(growth, window_start)    AS latest_growth,
    argMax(deviation, window_start) AS latest_deviation,
    argMax(uses, window_start)      AS latest_uses,
    argMax(stage, window_start)     AS latest_stage,
    max(window_end)                 AS last_window_end
FROM trend_signals FINAL
WHERE window_end > now64(3) - INTERVAL 1 HOUR AND window_end <= now64(3)
GROUP BY platform, entity_type, entity
HAVING latest_stage = 'emerging'
ORDER BY platform, latest_score DESC, entity
LIMIT 10 BY platform;

-- A trend's history, every platform: SELECT * FROM trend_history(entity = 'dance').
CREATE VIEW IF NOT EXISTS trend_history AS
SELECT platform, entity_type, window_start, window_end, uses, unique_creators, total_engagement,
       growth, baseline, observed, deviation, score, stage, revision
FROM trend_signals FINAL
WHERE entity = {entity:String}
ORDER BY platform, window_start;

-- Virality leaderboard: each post's latest prediction in the last 24 hours, most likely top-1% first.
CREATE VIEW IF NOT EXISTS virality_leaderboard AS
SELECT
    platform, post_id,
    argMax(prob_top1pct, at)               AS latest_prob_top1pct,
    argMax(predicted_final_engagement, at) AS latest_predicted_engagement,
    argMax(model_version, at)              AS latest_model_version,
    max(at)                                AS scored_at
FROM virality_scores FINAL
WHERE at > now64(3) - INTERVAL 24 HOUR
GROUP BY platform, post_id
ORDER BY latest_prob_top1pct DESC, post_id
LIMIT 100;

-- A creator's posts against the creator's own baseline: engagements (views excluded) in each post's
-- first hour, and the ratio to the creator's median over all their posts:
-- SELECT * FROM creator_posts_vs_baseline(creator = 'c-42').
CREATE VIEW IF NOT EXISTS creator_posts_vs_baseline AS
SELECT
    post_id, platform, posted_at, first_hour_engagements, first_hour_views,
    median(first_hour_engagements) OVER () AS creator_median_engagements,
    if(creator_median_engagements = 0, NULL, first_hour_engagements / creator_median_engagements) AS ratio_to_baseline
FROM
(
    SELECT
        p.post_id AS post_id, p.platform AS platform, p.posted_at AS posted_at,
        countIf(e.post_id = p.post_id AND e.type != 'view' AND e.at < p.posted_at + INTERVAL 1 HOUR) AS first_hour_engagements,
        countIf(e.post_id = p.post_id AND e.type = 'view' AND e.at < p.posted_at + INTERVAL 1 HOUR) AS first_hour_views
    FROM (SELECT post_id, platform, posted_at FROM posts FINAL WHERE creator_id = {creator:String}) AS p
    LEFT JOIN
    (
        SELECT post_id, type, at FROM engagements
        WHERE post_id IN (SELECT post_id FROM posts WHERE creator_id = {creator:String})
    ) AS e ON e.post_id = p.post_id
    GROUP BY p.post_id, p.platform, p.posted_at
)
ORDER BY posted_at DESC;
