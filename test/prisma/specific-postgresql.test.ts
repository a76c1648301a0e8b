import { prismaBackendTests } from './specific.js';

prismaBackendTests('postgresql');
