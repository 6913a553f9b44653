-- Exponential backoff with ±25 % jitter: base · 2^(attempt-1), at most max.
CREATE OR REPLACE FUNCTION agentqueue_backoff(p_attempt integer, p_base interval, p_max interval)
RETURNS interval
LANGUAGE sql VOLATILE AS $$
    SELECT least(p_base * power(2, least(greatest(p_attempt, 1) - 1, 30)), p_max) * (0.75 + random() * 0.5)
$$;
