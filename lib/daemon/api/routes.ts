// The API's routes as data: path, method, the zod schemas of their inputs and answers, the
// policy rule they need. server.ts serves exactly these (a handler per operationId, checked
// by the compiler) and openapi.ts documents exactly these, so the two cannot drift apart.
import type { z } from 'zod';
import type { PolicyAction } from './policy.js';
import {
  EventsQuery,
  HealthSchema,
  IdParams,
  PlanDetailSchema,
  PlanGetQuery,
  PlanListQuery,
  PlanListSchema,
  PlanNameParams,
  PointDetailSchema,
  PointListQuery,
  PointListSchema,
  RunDetailSchema,
  RunEventsSchema,
  RunListQuery,
  RunListSchema,
  StartRunRequestSchema,
  StartRunResponseSchema,
  StatusSchema,
  VersionDocSchema,
  VersionsDocSchema,
} from './schemas.js';

export const OPERATION_IDS = [
  'getVersions',
  'getVersion',
  'getHealth',
  'getOpenApi',
  'listPlans',
  'getPlan',
  'listPlanPoints',
  'getPoint',
  'listRuns',
  'getRun',
  'startRun',
  'followRun',
  'getStatus',
  'getMetrics',
] as const;
export type OperationId = (typeof OPERATION_IDS)[number];

export interface ResponseSpec {
  description: string;
  /** The JSON body's schema (application/json). */
  schema?: z.ZodType;
  /** Other media types answered, with a description of their body (e.g. text/event-stream). */
  media?: Record<string, string>;
  headers?: Record<string, string>;
}

export interface RouteSpec {
  operationId: OperationId;
  method: 'GET' | 'POST';
  /** OpenAPI path template: /v1/plans/{name}. */
  path: string;
  summary: string;
  description?: string;
  tag: 'discovery' | 'plans' | 'recovery points' | 'runs' | 'status' | 'metrics';
  /** Needs X-Auth-Token. */
  auth: boolean;
  /** The rule checked before the handler runs; `runs:create:<kind>` is checked per kind. */
  policy?: PolicyAction | 'runs:create:<kind>';
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: z.ZodType;
  /** Success answers (errors are added by openapi.ts from auth, inputs and path). */
  responses: Record<number, ResponseSpec>;
}

export const ROUTES: readonly RouteSpec[] = [
  {
    operationId: 'getVersions',
    method: 'GET',
    path: '/',
    summary: 'The API versions this daemon serves',
    tag: 'discovery',
    auth: false,
    responses: { 200: { description: 'the versions', schema: VersionsDocSchema } },
  },
  {
    operationId: 'getVersion',
    method: 'GET',
    path: '/v1',
    summary: 'The v1 version document',
    tag: 'discovery',
    auth: false,
    responses: { 200: { description: 'the version document, with a link to the OpenAPI document', schema: VersionDocSchema } },
  },
  {
    operationId: 'getHealth',
    method: 'GET',
    path: '/healthz',
    summary: "The daemon's own health, for load balancers and systemd watchdogs",
    description: 'No token needed. Says nothing about plans or sites (see GET /v1/status).',
    tag: 'discovery',
    auth: false,
    responses: {
      200: { description: 'ok or degraded', schema: HealthSchema },
      503: { description: 'failing', schema: HealthSchema },
    },
  },
  {
    operationId: 'getOpenApi',
    method: 'GET',
    path: '/v1/openapi.json',
    summary: 'This document (OpenAPI 3.1)',
    tag: 'discovery',
    auth: false,
    responses: { 200: { description: 'the OpenAPI 3.1 document, generated from the zod schemas the daemon validates with' } },
  },
  {
    operationId: 'listPlans',
    method: 'GET',
    path: '/v1/plans',
    summary: "The caller's protection plans",
    description: "A project's tokens see their project's plans; cloud admins (plans:all_projects) see every plan and may filter with `project`.",
    tag: 'plans',
    auth: true,
    policy: 'plans:read',
    query: PlanListQuery,
    responses: { 200: { description: 'plans by name', schema: PlanListSchema } },
  },
  {
    operationId: 'getPlan',
    method: 'GET',
    path: '/v1/plans/{name}',
    summary: 'A protection plan with its applied document',
    tag: 'plans',
    auth: true,
    policy: 'plans:read',
    params: PlanNameParams,
    query: PlanGetQuery,
    responses: { 200: { description: 'the plan', schema: PlanDetailSchema } },
  },
  {
    operationId: 'listPlanPoints',
    method: 'GET',
    path: '/v1/plans/{name}/points',
    summary: "A plan's recovery points, newest first",
    tag: 'recovery points',
    auth: true,
    policy: 'points:read',
    params: PlanNameParams,
    query: PointListQuery,
    responses: { 200: { description: 'recovery points (without manifests)', schema: PointListSchema } },
  },
  {
    operationId: 'getPoint',
    method: 'GET',
    path: '/v1/points/{id}',
    summary: 'A recovery point with its manifest',
    tag: 'recovery points',
    auth: true,
    policy: 'points:read',
    params: IdParams,
    responses: { 200: { description: 'the recovery point', schema: PointDetailSchema } },
  },
  {
    operationId: 'listRuns',
    method: 'GET',
    path: '/v1/runs',
    summary: 'Workflow runs, newest first',
    description: "Runs of the caller's plans (every plan for cloud admins), filtered by plan, kind and status.",
    tag: 'runs',
    auth: true,
    policy: 'runs:read',
    query: RunListQuery,
    responses: { 200: { description: 'runs with their last journal entry', schema: RunListSchema } },
  },
  {
    operationId: 'getRun',
    method: 'GET',
    path: '/v1/runs/{id}',
    summary: 'A run with its steps and its journal (the timeline)',
    tag: 'runs',
    auth: true,
    policy: 'runs:read',
    params: IdParams,
    responses: { 200: { description: 'the run', schema: RunDetailSchema } },
  },
  {
    operationId: 'startRun',
    method: 'POST',
    path: '/v1/plans/{name}/runs',
    summary: 'Start a DR test, failover, failback or replication cycle of a plan',
    description:
      'Answers 202 once the run is recorded; the workflow goes on in the daemon. Follow it at `Location` + `/events`. ' +
      'The rule checked is `runs:create:<kind>` (default: drtest and replicate need member, failover and failback admin). ' +
      'A kind whose workflow this daemon does not have answers 501.',
    tag: 'runs',
    auth: true,
    policy: 'runs:create:<kind>',
    params: PlanNameParams,
    body: StartRunRequestSchema,
    responses: {
      202: { description: 'the run is recorded and started', schema: StartRunResponseSchema, headers: { Location: 'the run: /v1/runs/{id}' } },
    },
  },
  {
    operationId: 'followRun',
    method: 'GET',
    path: '/v1/runs/{id}/events',
    summary: "Follow a run's progress: its journal entries as they are written",
    description:
      'With `Accept: text/event-stream`: Server-Sent Events. Event `run` (the run, at the start and whenever its status changes), ' +
      'event `entry` (a journal entry; its `id:` is the entry\'s seq, so a reconnecting EventSource resumes with Last-Event-ID), ' +
      'event `end` (the finished run) after which the server closes the stream, and event `error` (an error body) when the token ' +
      'stops being valid. Comment lines keep idle connections open.\n\n' +
      'Otherwise: a long poll answering JSON (RunEvents) as soon as there are entries after `after`, the run is finished, or `wait` seconds passed.',
    tag: 'runs',
    auth: true,
    policy: 'runs:read',
    params: IdParams,
    query: EventsQuery,
    responses: {
      200: {
        description: 'the events',
        schema: RunEventsSchema,
        media: { 'text/event-stream': 'events run, entry, end and error; data lines are JSON (RunSummary, JournalEntry, RunSummary, Error)' },
      },
    },
  },
  {
    operationId: 'getStatus',
    method: 'GET',
    path: '/v1/status',
    summary: "Protection status of the caller's plans, and the sites' health",
    tag: 'status',
    auth: true,
    policy: 'status:read',
    responses: { 200: { description: 'the status', schema: StatusSchema } },
  },
  {
    operationId: 'getMetrics',
    method: 'GET',
    path: '/metrics',
    summary: 'Prometheus metrics (text exposition format)',
    description:
      'On the API port it needs a token (rule metrics:read, default cloud admins). The daemon can also serve /metrics without a token on a separate listener (docs/metrics.md).',
    tag: 'metrics',
    auth: true,
    policy: 'metrics:read',
    responses: { 200: { description: 'the metrics', media: { 'text/plain; version=0.0.4': 'Prometheus text format' } } },
  },
];

/** /v1/plans/{name} → /v1/plans/:name (fastify's syntax). */
export function fastifyPath(path: string): string {
  return path.replace(/\{(\w+)\}/g, ':$1');
}
