/** Shared query-string schemas for admin list endpoints (paging). */
import { z } from 'zod';

export const PagingSchema = {
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  offset: z.coerce.number().int().min(0).default(0),
};

/** Header carrying the number of items matching a list query before paging. */
export const TOTAL_COUNT_HEADER = 'X-Total-Count';
