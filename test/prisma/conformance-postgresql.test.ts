import { prismaConformance } from './conformance.js';

prismaConformance('postgresql', 'PostgreSQL');
