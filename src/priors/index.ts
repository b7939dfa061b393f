/** The priors stage: query/retrieve of the patient's other MR study for the progression analysis. */
export { PriorRetrieval, combineFailures, type PriorFinishedEvent, type PriorQueryEvent, type PriorRetrievalDeps } from './prior-retrieval';
export { choosePriorStudy, patientMismatch, studyDateRange, type PriorChoice } from './choose-prior-study';
export { findPriorStudiesDimse, findPriorStudiesQido } from './find-prior-studies';
export { retrieveByCGet, retrieveByCMove, retrieveByWado } from './retrieve-prior-study';
export * from './prior-types';
