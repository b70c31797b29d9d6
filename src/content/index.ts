export { type GenerateBucketOptions, type GeneratedBucket, generateBucket } from './generate-bucket.js';
export { generatePages, type PageSetOptions, pageName } from './pages.js';
